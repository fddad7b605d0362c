// CloudFront Function, viewer request, cloudfront-js-2.0, on the origin tier's distribution:
// refuses a rendition taller than the viewer's signed policy allows.
//
// The play function signs a custom policy over one codec directory, and puts the session's
// maxHeight in it as its start time (DateGreaterThan, in seconds after the epoch: always in the
// past, so it restricts nothing by itself). The policy arrives as the CloudFront-Policy cookie, or
// the Policy query parameter of a signed manifest URL. CloudFront checks its signature; this
// function only reads it, so a forged policy is refused by CloudFront whatever this says.
//
// A file's height is read from its name: the ladder names renditions `<base>_<codec>_<height>p...`
// (lambda/encoding/ladder.ts). A name without one (audio, manifests, Automated ABR renditions)
// passes: that is what is left to close at the origin tier.
var RUNG = /_(?:avc1|hvc1|av01)_(\d{2,5})p(?![0-9])/;

var FORBIDDEN = { statusCode: 403, statusDescription: 'Forbidden' };

// The policy CloudFront will check, in CloudFront's base64; null when the viewer sent several.
function policyOf(request) {
    if (request.querystring.Policy) {
        return request.querystring.Policy.multiValue && request.querystring.Policy.multiValue.length > 1 ? null : request.querystring.Policy.value;
    }
    var cookie = request.cookies['CloudFront-Policy'];
    if (!cookie) {
        return undefined;
    }
    return cookie.multiValue && cookie.multiValue.length > 1 ? null : cookie.value;
}

// The height cap a policy carries; undefined for a policy signed before caps were, null for one
// that cannot be read.
function capOf(policy) {
    try {
        var decoded = Buffer.from(policy.replace(/-/g, '+').replace(/_/g, '=').replace(/~/g, '/'), 'base64').toString('utf8');
        var condition = JSON.parse(decoded).Statement[0].Condition;
        if (!condition.DateGreaterThan) {
            return undefined;
        }
        var cap = condition.DateGreaterThan['AWS:EpochTime'];
        return typeof cap === 'number' ? cap : null;
    } catch (e) {
        return null;
    }
}

function handler(event) {
    var request = event.request;
    // No object key needs an escape (keys are letters, digits, '_', '-', '.'), and an escaped name
    // (`2160%70`) would slip past the height below while S3 still decodes it to the rung.
    if (request.uri.indexOf('%') !== -1) {
        return FORBIDDEN;
    }
    var rung = RUNG.exec(request.uri.slice(request.uri.lastIndexOf('/') + 1));
    if (!rung) {
        return request;
    }
    var policy = policyOf(request);
    if (policy === undefined) {
        // Unsigned: CloudFront refuses it itself.
        return request;
    }
    var cap = policy === null ? null : capOf(policy);
    if (cap === undefined) {
        // Signed before caps were: such a policy lives at most a day (MAX_TOKEN_LIFETIME_SECONDS).
        return request;
    }
    return cap === null || Number(rung[1]) > cap ? FORBIDDEN : request;
}
