/**
 * The shapes of the Lambda events the handlers receive, as far as they read them (the fields are
 * those of the AWS event documentation and of `@types/aws-lambda`).
 */

/** One record of a Kinesis event source mapping's batch. */
export interface KinesisEventRecord {
  eventID: string;
  eventSourceARN: string;
  kinesis: { data: string; sequenceNumber: string; partitionKey?: string; approximateArrivalTimestamp?: number };
}

/** A batch from a Kinesis event source mapping (one shard per invocation). */
export interface KinesisStreamEvent {
  Records: KinesisEventRecord[];
}

/** The partial batch response of a mapping with `ReportBatchItemFailures`. */
export interface KinesisBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** A CloudWatch Logs subscription delivery: base64 of the gzip'd payload JSON. */
export interface CloudWatchLogsEvent {
  awslogs: { data: string };
}

/** One object notification of an S3 event. Keys arrive URL-encoded, spaces as `+`. */
export interface S3EventRecord {
  eventName: string;
  s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string; versionId?: string } };
}

/** An S3 event notification (`Records` is absent from the `s3:TestEvent` sent when a notification is set up). */
export interface S3Event {
  Records?: S3EventRecord[];
}
