/**
 * A small, strict XML 1.0 parser with namespaces, for documents a caller we do not trust can shape
 * (CPIX requests). It reads only what such documents need: elements, attributes, character data,
 * CDATA sections and comments, and it refuses outright what makes XML parsers dangerous:
 *
 * - no document type declaration (`<!DOCTYPE`), so no DTD, no external entity (XXE) and no entity
 *   expansion ("billion laughs");
 * - no entity reference but XML's five predefined ones and character references;
 * - no processing instruction other than the XML declaration;
 * - bounded depth, element count and attributes per element, checked while reading, so a hostile
 *   document costs time linear in its (already bounded) length.
 *
 * Names are kept to ASCII (`[A-Za-z_][A-Za-z0-9._-]*`, with one optional prefix): CPIX, PSKC and
 * XML Encryption use no other. The parser never recurses, and builds plain objects only.
 */

export const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

export interface XmlAttribute {
  /** The attribute's namespace URI; undefined for an unprefixed attribute (attributes take no default namespace). */
  readonly namespace: string | undefined;
  readonly localName: string;
  /** As written, prefix included: for messages. */
  readonly qualifiedName: string;
  readonly value: string;
}

export interface XmlElement {
  /** The element's namespace URI; undefined when it is in no namespace. */
  readonly namespace: string | undefined;
  readonly localName: string;
  /** As written, prefix included: for messages. */
  readonly qualifiedName: string;
  /** Namespace declarations (`xmlns`, `xmlns:p`) are not attributes and are not listed. */
  readonly attributes: readonly XmlAttribute[];
  readonly children: readonly XmlElement[];
  /** The element's own character data (children's excluded), references decoded, CDATA included. */
  readonly text: string;
  /** 1-based line of the start tag. */
  readonly line: number;
}

export interface XmlLimits {
  /** Nesting depth, the root being 1. */
  readonly maxDepth: number;
  readonly maxElements: number;
  readonly maxAttributesPerElement: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = { maxDepth: 16, maxElements: 1024, maxAttributesPerElement: 16 };

/**
 * Why a document was refused. `where` names the construct at fault (`DOCTYPE`, `entity`, `XML`...)
 * and the message says what and at which line; it quotes nothing longer than a name from the input.
 */
export class XmlSyntaxError extends Error {
  constructor(
    readonly where: string,
    readonly rule: string,
  ) {
    super(`${where}: ${rule}`);
    this.name = 'XmlSyntaxError';
  }
}

/** Characters XML 1.0 does not allow anywhere, lone surrogates included. */
const FORBIDDEN_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAME = /[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?/y;
const WHITESPACE = /[ \t\n]*/y;
const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

interface OpenElement {
  readonly qualifiedName: string;
  readonly prefix: string | undefined;
  readonly localName: string;
  readonly attributes: { qualifiedName: string; value: string }[];
  readonly scope: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  text: string;
  readonly line: number;
}

/** Parses one document and returns its root element, or throws an `XmlSyntaxError`. */
export function parseXml(input: string, limits: XmlLimits = DEFAULT_XML_LIMITS): XmlElement {
  return new Parser(input, limits).document();
}

class Parser {
  private readonly text: string;
  /** Offsets of the line feeds, for line numbers in messages. */
  private readonly lineFeeds: number[] = [];
  private pos = 0;
  private elements = 0;

  constructor(input: string, private readonly limits: XmlLimits) {
    // XML's end-of-line handling: every CR LF and lone CR reads as LF.
    this.text = input.replace(/\r\n?/g, '\n');
    for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) {
      this.lineFeeds.push(i);
    }
    const forbidden = FORBIDDEN_CHARACTER.exec(this.text);
    if (forbidden) {
      this.pos = forbidden.index;
      this.fail('XML', `a character XML does not allow (U+${forbidden[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`);
    }
  }

  document(): XmlElement {
    if (this.text.startsWith('\uFEFF')) {
      this.pos = 1;
    }
    if (this.text.startsWith('<?xml', this.pos) && /[ \t\n?]/.test(this.text.charAt(this.pos + 5))) {
      this.declaration();
    }
    this.misc();
    if (this.pos >= this.text.length) {
      this.fail('XML', 'the document has no root element');
    }
    const root = this.element();
    this.misc();
    if (this.pos < this.text.length) {
      this.fail('XML', 'content after the root element');
    }
    return root;
  }

  /** `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`: only version 1.0 and UTF-8. */
  private declaration(): void {
    const end = this.text.indexOf('?>', this.pos);
    if (end < 0) {
      this.fail('XML', 'the XML declaration is not closed');
    }
    const body = this.text.slice(this.pos + 5, end);
    const match = /^[ \t\n]+version=(["'])1\.0\1(?:[ \t\n]+encoding=(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\n]+standalone=(["'])(?:yes|no)\4)?[ \t\n]*$/.exec(body);
    if (!match) {
      this.fail('XML', 'the XML declaration must read <?xml version="1.0" encoding="UTF-8"?>');
    }
    if (match[3] !== undefined && match[3].toUpperCase() !== 'UTF-8') {
      this.fail('XML', 'the document must be encoded in UTF-8');
    }
    this.pos = end + 2;
  }

  /** Whitespace and comments; what else may stand outside the root is refused by name. */
  private misc(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.text.startsWith('<!--', this.pos)) {
        this.comment();
      } else if (this.text.startsWith('<!DOCTYPE', this.pos) || this.text.startsWith('<!doctype', this.pos)) {
        this.fail('DOCTYPE', 'document type declarations are refused (no DTDs, no entities, no external references)');
      } else if (this.text.startsWith('<?', this.pos)) {
        this.fail('XML', 'processing instructions are refused');
      } else if (this.text.startsWith('<!', this.pos)) {
        this.fail('XML', 'markup declarations are refused');
      } else {
        return;
      }
    }
  }

  private comment(): void {
    const end = this.text.indexOf('-->', this.pos + 4);
    if (end < 0) {
      this.fail('XML', 'a comment is not closed');
    }
    if (this.text.slice(this.pos + 4, end).includes('--')) {
      this.fail('XML', "a comment contains '--'");
    }
    this.pos = end + 3;
  }

  /** The root element and everything in it, with an explicit stack instead of recursion. */
  private element(): XmlElement {
    const stack: OpenElement[] = [];
    let parentScope: ReadonlyMap<string, string> = new Map([['xml', XML_NAMESPACE]]);
    for (;;) {
      if (this.text.charAt(this.pos) !== '<') {
        this.fail('XML', "expected an element ('<')");
      }
      const opened = this.startTag(parentScope, stack.length + 1);
      if (opened.selfClosing) {
        const done = this.close(opened.element);
        if (stack.length === 0) {
          return done;
        }
        stack[stack.length - 1].children.push(done);
      } else {
        stack.push(opened.element);
      }
      // Content until the next start tag, closing every element whose end tag comes first.
      for (;;) {
        const current = stack[stack.length - 1];
        if (!current) {
          throw new Error('unreachable: content outside the root');
        }
        current.text += this.characterData();
        if (this.pos >= this.text.length) {
          this.fail('XML', `element <${current.qualifiedName}> (line ${current.line}) is not closed`);
        }
        if (this.text.startsWith('</', this.pos)) {
          this.endTag(current);
          stack.pop();
          const done = this.close(current);
          if (stack.length === 0) {
            return done;
          }
          stack[stack.length - 1].children.push(done);
        } else if (this.text.startsWith('<!--', this.pos)) {
          this.comment();
        } else if (this.text.startsWith('<![CDATA[', this.pos)) {
          const end = this.text.indexOf(']]>', this.pos + 9);
          if (end < 0) {
            this.fail('XML', 'a CDATA section is not closed');
          }
          current.text += this.text.slice(this.pos + 9, end);
          this.pos = end + 3;
        } else if (this.text.startsWith('<!DOCTYPE', this.pos) || this.text.startsWith('<!doctype', this.pos)) {
          this.fail('DOCTYPE', 'document type declarations are refused (no DTDs, no entities, no external references)');
        } else if (this.text.startsWith('<?', this.pos)) {
          this.fail('XML', 'processing instructions are refused');
        } else if (this.text.startsWith('<!', this.pos)) {
          this.fail('XML', 'markup declarations are refused');
        } else {
          parentScope = current.scope;
          break;
        }
      }
    }
  }

  private startTag(parentScope: ReadonlyMap<string, string>, depth: number): { element: OpenElement; selfClosing: boolean } {
    const line = this.lineAt(this.pos);
    this.pos += 1;
    const qualifiedName = this.name('element');
    if (depth > this.limits.maxDepth) {
      this.fail('XML', `elements nest deeper than ${this.limits.maxDepth} levels`);
    }
    this.elements += 1;
    if (this.elements > this.limits.maxElements) {
      this.fail('XML', `the document has more than ${this.limits.maxElements} elements`);
    }
    const attributes: { qualifiedName: string; value: string }[] = [];
    const declarations = new Map<string, string>();
    let selfClosing = false;
    for (;;) {
      const before = this.pos;
      this.skipWhitespace();
      const c = this.text.charAt(this.pos);
      if (c === '>') {
        this.pos += 1;
        break;
      }
      if (c === '/' && this.text.charAt(this.pos + 1) === '>') {
        this.pos += 2;
        selfClosing = true;
        break;
      }
      if (this.pos === before) {
        this.fail('XML', `expected whitespace, '>' or '/>' in <${qualifiedName}>`);
      }
      const name = this.name('attribute');
      this.skipWhitespace();
      if (this.text.charAt(this.pos) !== '=') {
        this.fail('XML', `attribute ${name} of <${qualifiedName}> has no value`);
      }
      this.pos += 1;
      this.skipWhitespace();
      const value = this.attributeValue(name);
      if (name === 'xmlns' || name.startsWith('xmlns:')) {
        const prefix = name === 'xmlns' ? '' : name.slice(6);
        if (declarations.has(prefix)) {
          this.fail('XML', `namespace prefix '${prefix}' is declared twice on <${qualifiedName}>`);
        }
        if (prefix !== '' && value === '') {
          this.fail('XML', `namespace prefix '${prefix}' cannot be undeclared`);
        }
        if (prefix === 'xmlns' || value === XMLNS_NAMESPACE || (prefix === 'xml') !== (value === XML_NAMESPACE)) {
          this.fail('XML', `reserved namespace prefix or name in ${name}`);
        }
        declarations.set(prefix, value);
      } else {
        attributes.push({ qualifiedName: name, value });
        if (attributes.length > this.limits.maxAttributesPerElement) {
          this.fail('XML', `<${qualifiedName}> has more than ${this.limits.maxAttributesPerElement} attributes`);
        }
      }
    }
    let scope = parentScope;
    if (declarations.size > 0) {
      const merged = new Map(parentScope);
      for (const [prefix, uri] of declarations) {
        merged.set(prefix, uri);
      }
      scope = merged;
    }
    const colon = qualifiedName.indexOf(':');
    return {
      element: {
        qualifiedName,
        prefix: colon < 0 ? undefined : qualifiedName.slice(0, colon),
        localName: colon < 0 ? qualifiedName : qualifiedName.slice(colon + 1),
        attributes,
        scope,
        children: [],
        text: '',
        line,
      },
      selfClosing,
    };
  }

  private endTag(current: OpenElement): void {
    this.pos += 2;
    const name = this.name('element');
    this.skipWhitespace();
    if (this.text.charAt(this.pos) !== '>') {
      this.fail('XML', `the end tag </${name}> is not closed`);
    }
    if (name !== current.qualifiedName) {
      this.fail('XML', `</${name}> closes <${current.qualifiedName}> (line ${current.line})`);
    }
    this.pos += 1;
  }

  /** Resolves the element's and its attributes' namespaces, now that its declarations are known. */
  private close(open: OpenElement): XmlElement {
    const namespace = this.resolve(open.prefix, open.scope, true, open.qualifiedName);
    const seen = new Set<string>();
    const attributes = open.attributes.map((attribute): XmlAttribute => {
      const colon = attribute.qualifiedName.indexOf(':');
      const prefix = colon < 0 ? undefined : attribute.qualifiedName.slice(0, colon);
      const localName = colon < 0 ? attribute.qualifiedName : attribute.qualifiedName.slice(colon + 1);
      const attributeNamespace = this.resolve(prefix, open.scope, false, attribute.qualifiedName);
      const expanded = `${attributeNamespace ?? ''}\u0000${localName}`;
      if (seen.has(expanded)) {
        this.fail('XML', `attribute ${attribute.qualifiedName} appears twice on <${open.qualifiedName}> (line ${open.line})`);
      }
      seen.add(expanded);
      return { namespace: attributeNamespace, localName, qualifiedName: attribute.qualifiedName, value: attribute.value };
    });
    return {
      namespace,
      localName: open.localName,
      qualifiedName: open.qualifiedName,
      attributes,
      children: open.children,
      text: open.text,
      line: open.line,
    };
  }

  private resolve(prefix: string | undefined, scope: ReadonlyMap<string, string>, isElement: boolean, name: string): string | undefined {
    if (prefix === undefined) {
      if (!isElement) {
        return undefined;
      }
      const uri = scope.get('');
      return uri === undefined || uri === '' ? undefined : uri;
    }
    if (prefix === 'xmlns') {
      this.fail('XML', `reserved prefix in ${name}`);
    }
    const uri = scope.get(prefix);
    if (uri === undefined) {
      this.fail('XML', `namespace prefix '${prefix}' of ${name} is not declared`);
    }
    return uri;
  }

  /** Character data up to the next '<', references decoded. */
  private characterData(): string {
    const end = this.text.indexOf('<', this.pos);
    const stop = end < 0 ? this.text.length : end;
    const raw = this.text.slice(this.pos, stop);
    if (raw.includes(']]>')) {
      this.fail('XML', "character data contains ']]>'");
    }
    const decoded = this.decodeReferences(raw, this.pos);
    this.pos = stop;
    return decoded;
  }

  private attributeValue(name: string): string {
    const quote = this.text.charAt(this.pos);
    if (quote !== '"' && quote !== "'") {
      this.fail('XML', `the value of attribute ${name} is not quoted`);
    }
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) {
      this.fail('XML', `the value of attribute ${name} is not closed`);
    }
    const raw = this.text.slice(this.pos + 1, end);
    if (raw.includes('<')) {
      this.fail('XML', `the value of attribute ${name} contains '<'`);
    }
    // Attribute-value normalization: literal whitespace reads as a space; references are kept as written.
    const value = this.decodeReferences(raw.replace(/[\t\n]/g, ' '), this.pos + 1);
    this.pos = end + 1;
    return value;
  }

  private decodeReferences(raw: string, offset: number): string {
    if (!raw.includes('&')) {
      return raw;
    }
    return raw.replace(/&([^;&\s]{0,32})(;?)/g, (_whole, body: string, semicolon: string, index: number) => {
      if (semicolon !== ';') {
        this.pos = offset + index;
        this.fail('entity', "'&' must start a reference ending in ';' (write &amp; for a literal '&')");
      }
      if (body.startsWith('#')) {
        const codePoint = /^#x[0-9A-Fa-f]{1,6}$/.test(body)
          ? parseInt(body.slice(2), 16)
          : /^#[0-9]{1,7}$/.test(body)
            ? parseInt(body.slice(1), 10)
            : NaN;
        if (!isXmlCharacter(codePoint)) {
          this.pos = offset + index;
          this.fail('entity', `character reference &${body.slice(0, 12)}; is not a character XML allows`);
        }
        return String.fromCodePoint(codePoint);
      }
      const predefined = PREDEFINED_ENTITIES[body];
      if (predefined === undefined) {
        this.pos = offset + index;
        this.fail('entity', `reference &${body.slice(0, 32)}; is refused: only &lt; &gt; &amp; &quot; &apos; and character references are allowed`);
      }
      return predefined;
    });
  }

  private name(what: 'element' | 'attribute'): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.text);
    if (!match) {
      this.fail('XML', `expected an ${what} name (ASCII letters, digits, '.', '-', '_', one optional prefix)`);
    }
    this.pos = NAME.lastIndex;
    return match[0];
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  /** 1 + the number of line feeds before `offset`. */
  private lineAt(offset: number): number {
    let low = 0;
    let high = this.lineFeeds.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.lineFeeds[middle] < offset) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low + 1;
  }

  private fail(where: string, rule: string): never {
    throw new XmlSyntaxError(where, `${rule} (line ${this.lineAt(this.pos)})`);
  }
}

function isXmlCharacter(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff)
  );
}

/** The element's attribute in no namespace, if present. */
export function attributeOf(element: XmlElement, localName: string): string | undefined {
  return element.attributes.find((attribute) => attribute.namespace === undefined && attribute.localName === localName)?.value;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/**
 * Escapes text for element content or a double-quoted attribute value; tabs and line ends as
 * character references, so attribute-value normalization cannot turn them into spaces.
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\t\n\r]/g, (c) => ESCAPES[c]);
}
