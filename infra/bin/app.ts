import { App } from 'aws-cdk-lib';
import { AuditlakeStack } from '../lib/auditlake-stack.js';
import { propsFromContext } from '../lib/context.js';

/**
 * The CDK app: `cdk deploy -c key=value ...` from `infra/` (see `infra/cdk.json`), or `npm run synth`
 * to write the templates to `infra/cdk.out`. Settings come from the context (`lib/context.ts`).
 */
/** `-c key=value` arguments, for `npm run synth -- -c key=value` (the CDK CLI passes its own through the environment). */
function contextArgs(argv: string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '-c' || argv[i] === '--context') && argv[i + 1]?.includes('=')) {
      const [key, ...value] = argv[++i].split('=');
      context[key] = value.join('=');
    }
  }
  return context;
}

const app = new App({
  outdir: process.env.CDK_OUTDIR ?? new URL('../cdk.out', import.meta.url).pathname,
  context: contextArgs(process.argv.slice(2)),
});
const context = { ...app.node.getAllContext() };
const stackName = typeof context.stackName === 'string' ? context.stackName : 'Auditlake';
new AuditlakeStack(app, stackName, {
  ...propsFromContext(context),
  // An existing VPC is looked up in the account and region the CLI uses.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'auditlake: PostgreSQL audit trail (lake, ingest Lambdas, recording proxy, Athena)',
});
app.synth();
