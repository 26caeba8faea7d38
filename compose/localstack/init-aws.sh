#!/bin/bash
# LocalStack "ready" hook (mounted into /etc/localstack/init/ready.d): creates
# what the CDK stack creates in AWS, so the services run their production code
# paths (Secrets Manager for database credentials, SQS for events).
# The values come from docker-compose.yml; they are local-only dummies.
set -euo pipefail

: "${ZT_DB_SECRET_NAME:?}" "${ZT_DB_USER:?}" "${ZT_DB_PASSWORD:?}" "${ZT_DB_NAME:?}"
: "${ZT_EVENTS_QUEUE:?}"

# The rotation-template shape ({engine, host, username, password, dbname, port})
# that a Secrets Manager rotation function keeps up to date.
secret=$(python3 -c 'import json, os; print(json.dumps({"engine": "postgres", "host": "postgres", "port": 5432,
  "username": os.environ["ZT_DB_USER"], "password": os.environ["ZT_DB_PASSWORD"], "dbname": os.environ["ZT_DB_NAME"]}))')
if ! awslocal secretsmanager describe-secret --secret-id "$ZT_DB_SECRET_NAME" >/dev/null 2>&1; then
  awslocal secretsmanager create-secret --name "$ZT_DB_SECRET_NAME" --secret-string "$secret" >/dev/null
fi

# A dead-letter queue first, then the events queue redriving to it after five
# failed receives, like the production queue; its visibility timeout is the
# worker's default (defaultVisibilityTimeoutSeconds in
# services/url-service/src/worker/config.ts), as in infra/src/data.ts.
dlq_url=$(awslocal sqs create-queue --queue-name "$ZT_EVENTS_QUEUE-dlq" \
  --attributes MessageRetentionPeriod=1209600 --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)
awslocal sqs create-queue --queue-name "$ZT_EVENTS_QUEUE" \
  --attributes "{\"VisibilityTimeout\":\"60\",\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"5\\\"}\"}" >/dev/null

echo "zt: created secret $ZT_DB_SECRET_NAME and queues $ZT_EVENTS_QUEUE, $ZT_EVENTS_QUEUE-dlq"
