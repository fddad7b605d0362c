#!/usr/bin/env node
/**
 * `npm run build:appliance`: the appliance bundle (agent, nginx edge, install script, first-boot
 * unit) in `appliance-image/dist/nearstream-appliance/` and as `appliance-image/dist/nearstream-appliance.tar.gz`,
 * for bare-metal installs. The image build makes the same bundle itself.
 */
import * as path from 'node:path';
import { buildApplianceBundle, packApplianceBundle } from '../appliance-image/build';

const dist = path.join(__dirname, '..', 'appliance-image', 'dist');
const bundle = buildApplianceBundle(path.join(dist, 'nearstream-appliance'));
const tarball = packApplianceBundle(bundle, path.join(dist, 'nearstream-appliance.tar.gz'));
console.log(`${bundle}\n${tarball}`);
