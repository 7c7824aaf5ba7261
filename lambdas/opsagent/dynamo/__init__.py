"""DynamoDB: the tables' key schemas, declared once (:mod:`opsagent.dynamo.tables`)."""
