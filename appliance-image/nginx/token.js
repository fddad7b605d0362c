// Nearstream edge: checks the v1 segment-URL token of every request (see
// lambda/shared/url-token.ts, which signs them; both sides are held to the same vectors by tests),
// and holds the request to the token's maxHeight with the title's own renditions (renditions.js).
//
//   /t/<v1.keyId.expiresAt.applianceId.titleId.maxHeight.signature>/titles/<titleId>/<codec>/<file>
//
// Verdicts, exposed as $nearstream_verdict: ok | expired | malformed | unknown-key |
// bad-signature | lifetime-too-long | wrong-appliance | wrong-title | no-keyring | bad-path |
// above-max-height | not-in-manifest.
import fs from 'fs';
import crypto from 'crypto';
import renditions from 'renditions.js';

var ID = /^[A-Za-z0-9_-]{1,64}$/;
var SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
// The raw request path, before nginx decodes or normalizes anything: the characters tokens and
// encoded titles are made of, no component starting with '.', so no %-escapes (encoded slashes,
// NUL, double encoding), no dot segments, no dotfiles, no empty components.
var RAW_PATH = /^\/t\/[A-Za-z0-9._-]+\/titles\/[A-Za-z0-9_-]+(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/;
var MAX_RAW_PATH = 1024;
var MULTIVARIANT = { 'index.m3u8': 'hls', 'index.mpd': 'dash' };
var RENDITION_INDEX = 'renditions.json';

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

// A file below the cache directory, or null when it is missing or reached through a symlink
// (nginx's disable_symlinks does not cover what njs reads).
function cachedText(r, relative) {
    var root = r.variables.nearstream_cache_dir;
    try {
        if (fs.realpathSync(root + '/' + relative) !== fs.realpathSync(root) + '/' + relative) {
            return null;
        }
        return fs.readFileSync(root + '/' + relative, 'utf8');
    } catch (e) {
        return null;
    }
}

// The codec directory's renditions.json, or null when it is missing or unreadable: then the
// manifests themselves are read.
function renditionIndex(r, directory) {
    try {
        var index = JSON.parse(cachedText(r, directory + RENDITION_INDEX));
        return index.version === 1 && Array.isArray(index.renditions) ? index : null;
    } catch (e) {
        return null;
    }
}

// The path's checks, then the token's, then the rendition's: may this request have the file?
function verify(r) {
    var raw = (r.variables.request_uri || '').split('?')[0];
    if (raw.length > MAX_RAW_PATH || !RAW_PATH.test(raw)) {
        return 'bad-path';
    }
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
    var now = Math.floor(Date.now() / 1000);
    if (Number(expiresAt) <= now) {
        return 'expired';
    }
    if (Number(expiresAt) - now > Number(r.variables.nearstream_max_token_lifetime)) {
        return 'lifetime-too-long';
    }
    if (applianceId !== r.variables.nearstream_appliance_id) {
        return 'wrong-appliance';
    }
    if (object.indexOf(scope) !== 0) {
        return 'wrong-title';
    }
    if (Number(maxHeight) >= Number(r.variables.nearstream_uncapped_height)) {
        return 'ok';
    }
    // titles/<titleId>/<codec>/<file...>: the codec directory's rendition index (or, for a title
    // encoded before there were any, its manifests) says how tall the file is. The multivariant
    // manifests themselves are served cut to the token by manifest().
    var parts = object.split('/');
    if (parts.length < 4) {
        return 'not-in-manifest';
    }
    var file = parts.slice(3).join('/');
    if (MULTIVARIANT[file]) {
        return 'ok';
    }
    var directory = parts.slice(0, 3).join('/') + '/';
    var index = renditionIndex(r, directory);
    var height;
    if (index !== null) {
        height = renditions.indexHeight(index, file);
    } else {
        var playlist = /\.m3u8$/.test(file);
        var manifest = cachedText(r, directory + (playlist ? 'index.m3u8' : 'index.mpd'));
        height = manifest === null ? undefined : playlist ? renditions.hlsHeight(manifest, file) : renditions.dashHeight(manifest, file);
    }
    if (height === undefined) {
        return 'not-in-manifest';
    }
    return height > Number(maxHeight) ? 'above-max-height' : 'ok';
}

var REFUSAL_STATUS = { 'expired': 410, 'bad-path': 400 };

// GET /t/<token>/titles/<titleId>/<codec>/index.{m3u8,mpd}: the multivariant manifest, cut to the
// renditions the token may fetch.
function manifest(r) {
    var verdict = r.variables.nearstream_verdict;
    if (verdict !== 'ok') {
        r.return(REFUSAL_STATUS[verdict] || 403);
        return;
    }
    var object = r.variables.nearstream_object;
    var text = cachedText(r, object);
    if (text === null) {
        r.return(404);
        return;
    }
    var maxHeight = Number(r.variables.nearstream_token.split('.')[5]);
    var hls = MULTIVARIANT[object.split('/').pop()] === 'hls';
    r.headersOut['Content-Type'] = hls ? 'application/vnd.apple.mpegurl' : 'application/dash+xml';
    r.headersOut['Cache-Control'] = 'private';
    if (maxHeight >= Number(r.variables.nearstream_uncapped_height)) {
        r.return(200, text);
    } else {
        r.return(200, hls ? renditions.capHls(text, maxHeight) : renditions.capDash(text, maxHeight));
    }
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

export default { verify, manifest, health };
