"""Bootstrap of the knowledge base's vector index in OpenSearch Serverless.

Terraform cannot create an index inside an OpenSearch Serverless collection with the AWS provider, and
Bedrock needs the index to exist before the knowledge base is created. ``handler.lambda_handler`` is
invoked once during ``terraform apply`` (``aws_lambda_invocation``, re-run when the index definition
changes) and PUTs the index with a SigV4-signed request, retrying while the data access policy
propagates. ``mapping`` holds the one definition both the construct and the Lambda use.
"""
