// Nearstream edge: which rendition a file of a codec directory belongs to, and its manifests cut
// to a height. The same rules as lambda/shared/rendition-manifests.ts and rendition-index.ts, in
// njs, held to the same vectors by tests. Imported by token.js.
//
// A segment request is judged by the codec directory's renditions.json, which the encoding writes
// beside the manifests (patterns of every file of every rendition, read in microseconds); a title
// encoded before it existed is judged by its manifests, read with indexOf, not a parser: njs's
// regular expressions are far too slow to run over an MPD on every request.

var NO_PICTURE = 0;

// ------------------------------------------------------------------ HLS

function hlsAttributes(list) {
    var attributes = {};
    var pattern = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
    var match;
    while ((match = pattern.exec(list)) !== null) {
        attributes[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
    }
    return attributes;
}

function resolutionHeight(attributes) {
    var resolution = /^\d+x(\d+)$/.exec(attributes.RESOLUTION || '');
    return resolution ? Number(resolution[1]) : Infinity;
}

// The renditions of a multivariant playlist: { uri, height, lines: [line numbers] }.
function hlsEntries(lines) {
    var entries = [];
    for (var i = 0; i < lines.length; i++) {
        var tag = lines[i].indexOf('#EXT-X-') === 0 ? /^#(EXT-X-STREAM-INF|EXT-X-I-FRAME-STREAM-INF|EXT-X-MEDIA):(.*)$/.exec(lines[i].trim()) : null;
        if (!tag) {
            continue;
        }
        var attributes = hlsAttributes(tag[2]);
        if (tag[1] === 'EXT-X-STREAM-INF') {
            var next = i + 1;
            while (next < lines.length && (lines[next].trim() === '' || lines[next].trim().charAt(0) === '#')) {
                next++;
            }
            entries.push({ uri: next < lines.length ? lines[next].trim() : undefined, height: resolutionHeight(attributes), lines: next < lines.length ? [i, next] : [i] });
        } else if (tag[1] === 'EXT-X-I-FRAME-STREAM-INF') {
            entries.push({ uri: attributes.URI, height: resolutionHeight(attributes), lines: [i] });
        } else {
            var pictureless = ['AUDIO', 'SUBTITLES', 'CLOSED-CAPTIONS'].indexOf(attributes.TYPE) !== -1;
            entries.push({ uri: attributes.URI, height: pictureless ? NO_PICTURE : Infinity, lines: [i] });
        }
    }
    return entries;
}

// The path below the codec directory a manifest URI names, or null for one elsewhere.
function localPath(uri) {
    if (!uri || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) || uri.charAt(0) === '/') {
        return null;
    }
    var path = uri.replace(/[?#].*$/, '').replace(/^(\.\/)+/, '');
    var parts = path.split('/');
    for (var i = 0; i < parts.length; i++) {
        if (parts[i] === '..' || parts[i] === '.' || parts[i] === '') {
            return null;
        }
    }
    return path;
}

function hlsHeight(multivariant, file) {
    if (multivariant.indexOf(file) === -1) {
        return undefined;
    }
    var entries = hlsEntries(multivariant.split('\n'));
    var height;
    for (var i = 0; i < entries.length; i++) {
        if (localPath(entries[i].uri) === file) {
            height = Math.max(height === undefined ? NO_PICTURE : height, entries[i].height);
        }
    }
    return height;
}

function capHls(multivariant, maxHeight) {
    var lines = multivariant.split('\n');
    var dropped = {};
    hlsEntries(lines).forEach(function (entry) {
        if (entry.height > maxHeight) {
            entry.lines.forEach(function (line) { dropped[line] = true; });
        }
    });
    return lines.filter(function (line, index) { return !dropped[index]; }).join('\n');
}

// ------------------------------------------------------------------ DASH
// A scanner, not an XML parser: njs's regular expressions are far too slow to run over an MPD on
// every request. Tags are found by '<' and '>' (the encoders write no '>' inside an attribute
// value), attributes by '=' and their quotes; comments are skipped.

var DASH_ATTRIBUTES = { AdaptationSet: true, Representation: true };

function withoutPrefix(name) {
    var colon = name.indexOf(':');
    return colon === -1 ? name : name.slice(colon + 1);
}

// The name="value" pairs of a tag's text, namespace prefixes dropped.
function xmlAttributes(text) {
    var attributes = {};
    var at = 0;
    for (;;) {
        var equals = text.indexOf('=', at);
        if (equals === -1) {
            return attributes;
        }
        var open = equals + 1;
        while (open < text.length && ' \t\r\n'.indexOf(text.charAt(open)) !== -1) {
            open++;
        }
        var quote = text.charAt(open);
        var close = quote === '"' || quote === "'" ? text.indexOf(quote, open + 1) : -1;
        if (close === -1) {
            return attributes;
        }
        var value = text.slice(open + 1, close);
        attributes[withoutPrefix(text.slice(at, equals).trim())] = value.indexOf('&amp;') === -1 ? value : value.split('&amp;').join('&');
        at = close + 1;
    }
}

// The MPD's elements with their offsets and, for AdaptationSets and Representations, attributes.
function dashElements(text) {
    var all = [];
    var open = [];
    var at = 0;
    for (;;) {
        var start = text.indexOf('<', at);
        if (start === -1) {
            return all;
        }
        if (text.slice(start, start + 4) === '<!--') {
            var commentEnd = text.indexOf('-->', start + 4);
            at = commentEnd === -1 ? text.length : commentEnd + 3;
            continue;
        }
        var end = text.indexOf('>', start);
        if (end === -1) {
            return all;
        }
        at = end + 1;
        var closing = text.charAt(start + 1) === '/';
        var nameStart = closing ? start + 2 : start + 1;
        if (text.charAt(nameStart) === '?' || text.charAt(nameStart) === '!') {
            continue;
        }
        var nameEnd = nameStart;
        while (nameEnd < end && ' \t\r\n/'.indexOf(text.charAt(nameEnd)) === -1) {
            nameEnd++;
        }
        var name = withoutPrefix(text.slice(nameStart, nameEnd));
        if (closing) {
            for (var index = open.length - 1; index >= 0; index--) {
                if (open[index].name === name) {
                    open.splice(index).forEach(function (element) { element.end = end + 1; });
                    break;
                }
            }
            continue;
        }
        var selfClosing = text.charAt(end - 1) === '/';
        var parent = open.length ? open[open.length - 1] : undefined;
        var element = {
            name: name,
            attributes: DASH_ATTRIBUTES[name] ? xmlAttributes(text.slice(nameEnd, selfClosing ? end - 1 : end)) : {},
            openStart: start, openEnd: end + 1, end: end + 1, parent: parent, children: [],
        };
        if (parent) {
            parent.children.push(element);
        }
        all.push(element);
        if (!selfClosing) {
            open.push(element);
        }
    }
}

function isDigit(text, at) {
    var code = text.charCodeAt(at);
    return code >= 48 && code <= 57;
}

// A representation's height: as stated, none for sound and text, beyond any cap for unstated video.
function heightOf(stated, kind) {
    if (stated !== undefined && !isNaN(Number(stated))) {
        return Number(stated);
    }
    return kind.indexOf('audio') === 0 || kind.indexOf('text') === 0 ? NO_PICTURE : Infinity;
}

// The height and width of a Representation element, inheriting from its AdaptationSet.
function representationOf(element) {
    var set = element.parent && element.parent.name === 'AdaptationSet' ? element.parent.attributes : {};
    var inherited = function (name) { return element.attributes[name] !== undefined ? element.attributes[name] : set[name]; };
    return { height: heightOf(inherited('height'), inherited('mimeType') || set.contentType || ''), width: Number(inherited('width')) || 0 };
}

function stripComments(mpd) {
    return mpd.replace(/^[ \t]*<!--[\s\S]*?-->[ \t]*\r?\n/gm, '').replace(/<!--[\s\S]*?-->/g, '');
}

// The attributes of the tag opening at `at`.
function tagAttributes(mpd, at) {
    var end = mpd.indexOf('>', at);
    var nameEnd = at + 1;
    while (nameEnd < end && ' \t\r\n/'.indexOf(mpd.charAt(nameEnd)) === -1) {
        nameEnd++;
    }
    return xmlAttributes(mpd.slice(nameEnd, mpd.charAt(end - 1) === '/' ? end - 1 : end));
}

// Where the last `<name` tag (not a longer name) at or before `at` opens, or -1.
function lastTag(mpd, name, at) {
    var found = mpd.lastIndexOf('<' + name, at);
    while (found !== -1 && ' \t\r\n/>'.indexOf(mpd.charAt(found + name.length + 1)) === -1) {
        found = found === 0 ? -1 : mpd.lastIndexOf('<' + name, found - 1);
    }
    return found;
}

// Where the next `<name` tag (not a longer name) at or after `at` opens, or -1.
function nextTag(mpd, name, at) {
    var found = mpd.indexOf('<' + name, at);
    while (found !== -1 && ' \t\r\n/>'.indexOf(mpd.charAt(found + name.length + 1)) === -1) {
        found = mpd.indexOf('<' + name, found + 1);
    }
    return found;
}

// Does the tag opening at `at` say name="value"? (Attributes as encoders write them: after a space.)
function tagHas(mpd, at, name, value) {
    var hit = mpd.indexOf(' ' + name + '="' + value + '"', at);
    return hit !== -1 && hit < mpd.indexOf('>', at);
}

// Fits the path to a template whose representation is not known yet: what the representation's
// id and bandwidth must be for it to fit ({ id, bandwidth }, undefined where the template does
// not use one), or null when no representation's could.
function templateFit(parts, index, path, at, fit) {
    if (index === parts.length) {
        return at === path.length ? fit : null;
    }
    if (index % 2 === 0) {
        return path.slice(at, at + parts[index].length) === parts[index] ? templateFit(parts, index + 1, path, at + parts[index].length, fit) : null;
    }
    var identifier = /^(RepresentationID|Number|Time|Bandwidth|SubNumber|)(?:%0(\d+)[dxX])?$/.exec(parts[index]);
    if (!identifier) {
        return null;
    }
    if (identifier[1] === '') {
        return path.charAt(at) === '$' ? templateFit(parts, index + 1, path, at + 1, fit) : null;
    }
    if (identifier[1] === 'RepresentationID') {
        for (var end = at + 1; end <= path.length; end++) {
            var found = templateFit(parts, index + 1, path, end, { id: path.slice(at, end), bandwidth: fit.bandwidth });
            if (found && (fit.id === undefined || found.id === fit.id)) {
                return found;
            }
        }
        return null;
    }
    var digits = 0;
    while (isDigit(path, at + digits)) {
        digits++;
    }
    if (digits < Number(identifier[2] || 1)) {
        return null;
    }
    var bandwidth = identifier[1] === 'Bandwidth' ? String(Number(path.slice(at, at + digits))) : fit.bandwidth;
    if (fit.bandwidth !== undefined && bandwidth !== fit.bandwidth) {
        return null;
    }
    return templateFit(parts, index + 1, path, at + digits, { id: fit.id, bandwidth: bandwidth });
}

// The height of the Representation opening at `at`, inheriting from its AdaptationSet.
function representationHeight(mpd, at, set) {
    var own = tagAttributes(mpd, at);
    var inherited = tagAttributes(mpd, set);
    var attribute = function (name) { return own[name] !== undefined ? own[name] : inherited[name]; };
    return heightOf(attribute('height'), attribute('mimeType') || inherited.contentType || '');
}

// The height of the rendition an MPD names a file in, or undefined. A file belongs to a
// Representation when a template in it, or in its AdaptationSet before its Representations, fits
// the file with the Representation's id and bandwidth. Segment requests run this, so it reads
// the MPD with indexOf, not a parser: only templates whose fixed head and tail fit the file are
// looked at, and only the Representations their id or bandwidth could name.
function dashHeight(mpd, file) {
    var height;
    ['media="', 'initialization="', 'index="', 'sourceURL="'].forEach(function (attribute) {
        for (var at = mpd.indexOf(attribute); at !== -1; at = mpd.indexOf(attribute, at + 1)) {
            // Cheapest checks first: most templates are another rendition's, and fail on their head.
            var valueStart = at + attribute.length;
            while (mpd.charAt(valueStart) === '.' && mpd.charAt(valueStart + 1) === '/') {
                valueStart += 2;
            }
            if (mpd.charAt(valueStart) !== file.charAt(0) && mpd.charAt(valueStart) !== '$') {
                continue;
            }
            var valueEnd = mpd.indexOf('"', valueStart);
            var dollar = mpd.indexOf('$', valueStart);
            var head = mpd.slice(valueStart, dollar !== -1 && dollar < valueEnd ? dollar : valueEnd);
            if (!file.startsWith(head) || ' \t\r\n'.indexOf(mpd.charAt(at - 1)) === -1) {
                continue;
            }
            var template = localPath(mpd.slice(valueStart, valueEnd));
            var parts = template === null ? [''] : template.split('$');
            var tail = parts[parts.length - 1];
            if (template === null || parts.length % 2 === 0 || file.slice(file.length - tail.length) !== tail || mpd.lastIndexOf('<!--', at) > mpd.lastIndexOf('-->', at)) {
                continue;
            }
            var fit = templateFit(parts, 0, file, 0, {});
            var set = lastTag(mpd, 'AdaptationSet', at);
            if (!fit || set === -1 || mpd.lastIndexOf('</AdaptationSet', at) > set) {
                continue;
            }
            var own = lastTag(mpd, 'Representation', at);
            var candidates = [];
            if (own > set) {
                var ownEnd = mpd.indexOf('>', own);
                if (mpd.charAt(ownEnd - 1) !== '/' && mpd.lastIndexOf('</Representation', at) < own) {
                    candidates.push(own);
                }
            } else {
                var setEnd = mpd.indexOf('</AdaptationSet', at);
                for (var next = nextTag(mpd, 'Representation', at); next !== -1 && (setEnd === -1 || next < setEnd); next = nextTag(mpd, 'Representation', next + 1)) {
                    candidates.push(next);
                }
            }
            candidates.forEach(function (candidate) {
                if ((fit.id === undefined || tagHas(mpd, candidate, 'id', fit.id)) && (fit.bandwidth === undefined || tagHas(mpd, candidate, 'bandwidth', fit.bandwidth))) {
                    height = Math.max(height === undefined ? NO_PICTURE : height, representationHeight(mpd, candidate, set));
                }
            });
        }
    });
    return height;
}

// Widens a span to the whole lines it sits on, so removing it leaves no blank line behind.
function wholeLines(text, start, end) {
    var from = start;
    while (from > 0 && (text.charAt(from - 1) === ' ' || text.charAt(from - 1) === '\t')) {
        from--;
    }
    var newline = /^[ \t]*\r?\n/.exec(text.slice(end));
    return newline && (from === 0 || text.charAt(from - 1) === '\n') ? [from, end + newline[0].length] : [start, end];
}

function capDash(mpd, maxHeight) {
    var text = stripComments(mpd);
    var edits = [];
    dashElements(text).filter(function (element) { return element.name === 'AdaptationSet'; }).forEach(function (set) {
        var representations = set.children.filter(function (child) { return child.name === 'Representation'; });
        var kept = representations.filter(function (element) { return representationOf(element).height <= maxHeight; });
        if (kept.length === representations.length) {
            return;
        }
        if (kept.length === 0) {
            var whole = wholeLines(text, set.openStart, set.end);
            edits.push({ start: whole[0], end: whole[1], replacement: '' });
            return;
        }
        var tallest = function (field) {
            return Math.max.apply(null, kept.map(function (element) { return representationOf(element)[field]; }));
        };
        var opening = text.slice(set.openStart, set.openEnd)
            .replace(/(\smaxHeight\s*=\s*)(["'])\d+\2/, function (all, name, quote) { return name + quote + tallest('height') + quote; })
            .replace(/(\smaxWidth\s*=\s*)(["'])\d+\2/, function (all, name, quote) { return name + quote + tallest('width') + quote; });
        edits.push({ start: set.openStart, end: set.openEnd, replacement: opening });
        representations.filter(function (element) { return kept.indexOf(element) === -1; }).forEach(function (element) {
            var span = wholeLines(text, element.openStart, element.end);
            edits.push({ start: span[0], end: span[1], replacement: '' });
        });
    });
    edits.sort(function (a, b) { return b.start - a.start; });
    return edits.reduce(function (result, edit) { return result.slice(0, edit.start) + edit.replacement + result.slice(edit.end); }, text);
}

// ------------------------------------------------------------------ the rendition index

// Does the file name fit the pattern: literal strings, and between them the fewest digits a
// $Number$, $Time$ or $SubNumber$ stands for?
function patternMatches(pattern, path, index, at) {
    if (index === pattern.length) {
        return at === path.length;
    }
    var part = pattern[index];
    if (typeof part === 'string') {
        return path.startsWith(part, at) && patternMatches(pattern, path, index + 1, at + part.length);
    }
    var digits = 0;
    while (isDigit(path, at + digits)) {
        digits++;
    }
    for (var take = digits; take >= part; take--) {
        if (patternMatches(pattern, path, index + 1, at + take)) {
            return true;
        }
    }
    return false;
}

// The height of the rendition the index names a file in (a null height is taller than any cap),
// or undefined.
function indexHeight(index, file) {
    var height;
    index.renditions.forEach(function (rendition) {
        if (rendition.files.some(function (pattern) { return patternMatches(pattern, file, 0, 0); })) {
            height = Math.max(height === undefined ? NO_PICTURE : height, rendition.height === null ? Infinity : rendition.height);
        }
    });
    return height;
}

export default { hlsHeight, capHls, dashHeight, capDash, indexHeight };
