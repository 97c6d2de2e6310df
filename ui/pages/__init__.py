"""One QWizardPage per step of the setup, in the order the wizard shows them."""
