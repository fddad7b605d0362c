import { RemovalPolicy } from 'aws-cdk-lib';
import { EnvironmentConfig } from './environment';

/** What happens to an environment's stateful resources when their stacks go away. */
export interface Retention {
  readonly removalPolicy: RemovalPolicy;
  /** Deletion protection and termination protection where AWS offers them. */
  readonly protect: boolean;
}

/** Production and staging keep and protect their data; an ephemeral environment leaves nothing behind. */
export function retentionOf(config: EnvironmentConfig): Retention {
  const keep = config.kind !== 'ephemeral';
  return { removalPolicy: keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY, protect: keep };
}
