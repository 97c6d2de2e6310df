"""The Qt desktop wizard. Qt only: it never imports boto3 and reaches AWS only via ``wizard``."""
