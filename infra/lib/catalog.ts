import { CfnResource, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import { ALERTS_TABLE } from '../../src/cli/commands/schema.js';
import { EVENTS_TABLE, glueTableInput } from '../../src/schema/index.js';
import { complianceReports } from './compliance-queries.js';
import { ATHENA_RESULTS_PREFIX, type LakeBucket } from './lake-bucket.js';

/** Options of {@link LakeCatalog}. */
export interface LakeCatalogProps {
  lake: LakeBucket;
  databaseName: string;
  workGroupName: string;
  /** Users whose sessions the privileged-sessions report lists. */
  privilegedUsers: readonly string[];
  /** Most bytes one query may scan. */
  bytesScannedCutoffPerQuery: number;
  /** First event_date Athena's partition projection covers (default 2020-01-01). */
  projectionStart?: string;
}

/**
 * The lake in the Glue catalog and Athena: a database with `audit_events` and `audit_alerts`, whose
 * columns and partition projection are generated from the schema declaration (the same
 * `glueTableInput` that writes `schemas/glue/`), and a workgroup that enforces an encrypted result
 * location in the lake bucket and a scan limit, with the compliance reports as saved queries.
 */
export class LakeCatalog extends Construct {
  readonly database: glue.CfnDatabase;
  readonly workGroup: athena.CfnWorkGroup;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const account = Stack.of(this).account;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: { name: props.databaseName, description: 'auditlake: PostgreSQL audit events and alerts' },
    });
    const location = `s3://${props.lake.bucket.bucketName}/${props.lake.prefix}`;
    for (const [cid, table] of [
      ['EventsTable', EVENTS_TABLE],
      ['AlertsTable', ALERTS_TABLE],
    ] as const) {
      // The generated TableInput is already in CloudFormation's shape; passed through as it is.
      const resource = new CfnResource(this, cid, {
        type: 'AWS::Glue::Table',
        properties: {
          CatalogId: account,
          DatabaseName: props.databaseName,
          TableInput: glueTableInput(table, { location, projectionStart: props.projectionStart }),
        },
      });
      resource.node.addDependency(this.database);
    }
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName,
      description: 'auditlake queries: results encrypted in the lake bucket, scan limit per query',
      recursiveDeleteOption: false,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${props.lake.bucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    for (const report of complianceReports(props.privilegedUsers)) {
      const query = new athena.CfnNamedQuery(this, report.name, {
        name: report.name,
        description: report.description,
        database: props.databaseName,
        workGroup: props.workGroupName,
        queryString: report.sql,
      });
      query.node.addDependency(this.workGroup, this.database);
    }
  }
}
