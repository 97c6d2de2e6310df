"""xacct-wizard: set up Amazon Athena cross-account federated queries over DynamoDB."""

__version__ = "0.1.0"
APP_NAME = "xacct-wizard"
