import * as path from 'node:path';
import { Function as CloudFrontFunction, FunctionCode, FunctionEventType, FunctionRuntime, FunctionAssociation } from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';

export interface OriginRenditionGuardProps {
  /** Prefix of the tier's names, `nearstream-<env>`, for the function's comment. */
  readonly namePrefix: string;
}

/**
 * The origin tier's height check: a CloudFront Function on viewer requests that refuses a rendition
 * taller than the viewer's signed policy allows (`lambda/edge/rendition-guard.js`). Signed cookies
 * open a directory; this is what holds a capped viewer to the renditions at or below its cap inside
 * it, for the renditions whose names carry their height.
 */
export class OriginRenditionGuard extends Construct {
  readonly function: CloudFrontFunction;

  constructor(scope: Construct, id: string, props: OriginRenditionGuardProps) {
    super(scope, id);
    this.function = new CloudFrontFunction(this, 'Function', {
      comment: `${props.namePrefix}: refuses renditions above the signed policy's height`,
      code: FunctionCode.fromFile({ filePath: path.join(__dirname, '..', '..', 'lambda', 'edge', 'rendition-guard.js') }),
      runtime: FunctionRuntime.JS_2_0,
    });
  }

  /** The association a distribution behavior needs to run the guard on every viewer request. */
  association(): FunctionAssociation {
    return { function: this.function, eventType: FunctionEventType.VIEWER_REQUEST };
  }
}
