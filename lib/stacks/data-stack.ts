import { CfnResource, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { CONTROL_TABLE_SCHEMA } from '../../lambda/shared/control-table';
import { EnvironmentConfig } from '../config/environment';
import { EnvironmentNaming } from '../config/naming';

export interface DataStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/**
 * Everything stateful, in the primary region, replicated to the secondary: the control plane's
 * global table and the URL-signing secret. Production and staging retain and protect them; an
 * ephemeral environment destroys them with the stack.
 *
 * Logical ids here are pinned (and a test holds them): renaming a construct must never make
 * CloudFormation replace a production table or secret.
 */
export class DataStack extends Stack {
  readonly controlTable: TableV2;
  readonly urlSigningSecret: Secret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const naming = new EnvironmentNaming(config);
    const keep = config.kind !== 'ephemeral';
    const removalPolicy = keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.controlTable = new TableV2(this, 'ControlTable', {
      tableName: naming.controlTableName,
      partitionKey: { name: CONTROL_TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: CONTROL_TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: CONTROL_TABLE_SCHEMA.timeToLiveAttribute,
      deletionProtection: keep,
      removalPolicy,
      replicas: [{ region: config.secondaryRegion }],
      globalSecondaryIndexes: [
        {
          indexName: CONTROL_TABLE_SCHEMA.index.name,
          partitionKey: { name: CONTROL_TABLE_SCHEMA.index.partitionKey, type: AttributeType.STRING },
          sortKey: { name: CONTROL_TABLE_SCHEMA.index.sortKey, type: AttributeType.STRING },
        },
      ],
    });
    pinLogicalId(this.controlTable, 'ControlTable');

    this.urlSigningSecret = new Secret(this, 'UrlSigningSecret', {
      secretName: naming.urlSigningSecretName,
      description: `Keys that sign segment-URL tokens for ${naming.prefix}; read by the control plane and appliances`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ keyId: 'k1' }),
        generateStringKey: 'key',
        passwordLength: 64,
        excludePunctuation: true,
      },
      replicaRegions: [{ region: config.secondaryRegion }],
      removalPolicy,
    });
    pinLogicalId(this.urlSigningSecret, 'UrlSigningSecret');
    Validations.of(this.urlSigningSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason: 'Signing keys rotate through key ids in the token format (old and new key valid together), not through a Secrets Manager rotation Lambda that would invalidate live tokens.',
    });
  }
}

function pinLogicalId(construct: Construct, logicalId: string): void {
  (construct.node.defaultChild as CfnResource).overrideLogicalId(logicalId);
}
