// Nearstream edge: checks the v1 segment-URL token of every request (see
// lambda/shared/url-token.ts, which signs them; both sides are held to the same vectors by tests).
//
//   /t/<v1.keyId.expiresAt.applianceId.titleId.maxHeight.signature>/titles/<titleId>/...
//
// Verdicts, exposed as $nearstream_verdict: ok | expired | malformed | unknown-key |
// bad-signature | wrong-appliance | wrong-title | no-keyring.
import fs from 'fs';
import crypto from 'crypto';

var ID = /^[A-Za-z0-9_-]{1,64}$/;
var SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

function keyring(r) {
    try {
        return JSON.parse(fs.readFileSync(r.variables.nearstream_keyring_file));
    } catch (e) {
        return null;
    }
}

// Constant time in the length of the expected value: no early exit on the first difference.
function sameString(a, b) {
    var diff = a.length ^ b.length;
    for (var i = 0; i < b.length; i++) {
        diff |= (a.charCodeAt(i % (a.length || 1)) ^ b.charCodeAt(i));
    }
    return diff === 0;
}

function verify(r) {
    var token = r.variables.nearstream_token || '';
    var object = r.variables.nearstream_object || '';
    var fields = token.split('.');
    if (fields.length !== 7 || fields[0] !== 'v1') {
        return 'malformed';
    }
    var keyId = fields[1], expiresAt = fields[2], applianceId = fields[3], titleId = fields[4], maxHeight = fields[5], signature = fields[6];
    if (!ID.test(keyId) || !ID.test(applianceId) || !ID.test(titleId) || !/^\d{1,12}$/.test(expiresAt) || !/^\d{1,5}$/.test(maxHeight) || !SIGNATURE.test(signature)) {
        return 'malformed';
    }
    var ring = keyring(r);
    if (!ring) {
        return 'no-keyring';
    }
    var key = ring[keyId];
    if (keyId === 'activeKeyId' || typeof key !== 'string') {
        return 'unknown-key';
    }
    var scope = 'titles/' + titleId + '/';
    var canonical = ['nearstream-url-token/v1', keyId, expiresAt, applianceId, scope, maxHeight].join('\n');
    var expected = crypto.createHmac('sha256', key).update(canonical).digest('base64url');
    if (!sameString(signature, expected)) {
        return 'bad-signature';
    }
    if (Number(expiresAt) <= Math.floor(Date.now() / 1000)) {
        return 'expired';
    }
    if (applianceId !== r.variables.nearstream_appliance_id) {
        return 'wrong-appliance';
    }
    if (object.indexOf(scope) !== 0 || object.split('/').indexOf('..') !== -1) {
        return 'wrong-title';
    }
    return 'ok';
}

// GET /health: serving when the key ring is readable, so tokens can be checked.
function health(r) {
    var ring = keyring(r);
    var serving = ring !== null && typeof ring.activeKeyId === 'string';
    r.headersOut['Content-Type'] = 'application/json';
    r.headersOut['Cache-Control'] = 'no-store';
    r.return(serving ? 200 : 503, JSON.stringify({
        status: serving ? 'serving' : 'not-serving',
        applianceId: r.variables.nearstream_appliance_id,
        reason: serving ? undefined : 'the key ring is missing or unreadable',
    }));
}

export default { verify, health };
