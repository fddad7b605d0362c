import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccountRecovery, Mfa, UserPool, UserPoolClient, UserPoolEmail } from 'aws-cdk-lib/aws-cognito';
import { ViewerEmailSettings } from '../config/environment';
import { Construct } from 'constructs';

export interface ViewerIdentityProps {
  /** The user pool's name, unique per environment. */
  readonly userPoolName: string;
  /** Follows the environment kind: production keeps its viewers. */
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  /**
   * Sends viewers' verification and recovery email through SES, as production needs.
   * @default - Cognito's own email, limited to a few dozen messages a day
   */
  readonly email?: ViewerEmailSettings;
}

/**
 * The Cognito user pool viewers sign in with, unless the environment names another OIDC issuer,
 * and the public client players use. Both regions' APIs trust its issuer.
 */
export class ViewerIdentity extends Construct {
  readonly userPool: UserPool;
  readonly playerClient: UserPoolClient;

  constructor(scope: Construct, id: string, props: ViewerIdentityProps) {
    super(scope, id);
    this.userPool = new UserPool(this, 'UserPool', {
      userPoolName: props.userPoolName,
      selfSignUpEnabled: true,
      signInAliases: { email: true },
      autoVerify: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      email: props.email
        ? UserPoolEmail.withSES({
            fromEmail: props.email.fromAddress,
            sesRegion: props.email.sesRegion,
            sesVerifiedDomain: props.email.fromAddress.split('@')[1],
          })
        : undefined,
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-COG2',
        reason: 'MFA is offered (TOTP) but not forced: a streaming service cannot demand a second factor at every TV sign-in.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-COG8',
        reason: 'Threat protection needs the Cognito Plus feature plan, priced per active user; operators enable it per environment, it is not a default.',
      },
    );
    this.playerClient = this.userPool.addClient('PlayerClient', {
      // Admin password auth needs IAM credentials (cognito-idp:AdminInitiateAuth), so players cannot
      // use it; the post-deploy smoke test signs its test viewer in with it.
      authFlows: { userSrp: true, adminUserPassword: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
  }

  /** The issuer viewers' tokens carry, as API Gateway's JWT authorizer expects it. */
  get issuerUrl(): string {
    return `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
  }
}
