import { BuildEnvironment, ComputeType, IBuildImage, LinuxBuildImage } from 'aws-cdk-lib/aws-codebuild';

/**
 * The image every Nearstream build runs in: Debian 12 with Node 20, from the ECR Public mirror of
 * Docker's official images (no Docker Hub pull limits). Not CodeBuild's Ubuntu standard image:
 * `bin/prerequisites.ts` installs Debian packages (`chromium`, `libnginx-mod-http-js`), and on
 * Ubuntu `chromium` is a snap, which does not run in a build container. The appliance tests
 * debootstrap a Debian 12 root, which a Debian host builds without extra keyrings.
 */
export const NODE_BUILD_IMAGE: IBuildImage = LinuxBuildImage.fromDockerRegistry('public.ecr.aws/docker/library/node:20-bookworm');

/**
 * The test suite's environment: 8 vCPUs and 15 GiB (the suite runs 8-10 minutes on 4 cores and
 * starts DynamoDB Local, nginx and a browser), privileged because the appliance install test
 * mounts /proc inside a debootstrap chroot, which needs CAP_SYS_ADMIN.
 */
export const TEST_SUITE_BUILD_ENVIRONMENT: BuildEnvironment = {
  buildImage: NODE_BUILD_IMAGE,
  computeType: ComputeType.LARGE,
  privileged: true,
};

/** What a deployment or a smoke test needs: Node and the network, nothing privileged. */
export const DEPLOY_BUILD_ENVIRONMENT: BuildEnvironment = {
  buildImage: NODE_BUILD_IMAGE,
  computeType: ComputeType.MEDIUM,
  privileged: false,
};

/** The reason cdk-nag's and cfn-guard's privileged-mode findings are acknowledged on the test build. */
export const PRIVILEGED_TEST_BUILD_REASON =
  'The test suite installs the appliance into a debootstrap Debian root and mounts /proc inside that chroot, which needs privileged mode; the build runs only code from the release branch.';

/**
 * A single-quoted shell word: the value passes through `sh` unchanged whatever it contains
 * (spaces, commas, `=`, `$`, quotes, JSON).
 */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
