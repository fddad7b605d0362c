/**
 * Just enough XML for a DASH MPD: elements, attributes, text, comments, processing instructions,
 * CDATA and the five predefined entities plus character references. Names lose their namespace
 * prefix. No DTDs, no external entities.
 */

export interface XmlElement {
  /** The local name, without a namespace prefix. */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text, trimmed. */
  readonly text: string;
}

export class XmlSyntaxError extends Error {}

const TOKEN =
  /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/y;
const ATTRIBUTE = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, entity: string) => {
    if (entity.startsWith('#')) {
      const code = entity[1].toLowerCase() === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[entity] ?? whole;
  });
}

function localName(name: string): string {
  return name.slice(name.indexOf(':') + 1);
}

function lineAt(text: string, offset: number): number {
  return text.slice(0, offset).split('\n').length;
}

interface OpenElement {
  name: string;
  qualifiedName: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function close(element: OpenElement): XmlElement {
  return { name: element.name, attributes: element.attributes, children: element.children, text: element.text.trim() };
}

/** The document's root element; an `XmlSyntaxError` names the line of the first problem. */
export function parseXml(text: string): XmlElement {
  const stack: OpenElement[] = [];
  let root: XmlElement | undefined;
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    const offset = TOKEN.lastIndex;
    const token = TOKEN.exec(text);
    if (!token) {
      throw new XmlSyntaxError(`malformed markup on line ${lineAt(text, offset)}`);
    }
    const [whole, cdata, closing, opening, attributeText, selfClosing, characters] = token;
    const parent = stack[stack.length - 1];
    if (characters !== undefined || cdata !== undefined) {
      if (parent) {
        parent.text += cdata ?? decode(characters);
      } else if ((characters ?? cdata).trim() !== '') {
        throw new XmlSyntaxError(`text outside the root element on line ${lineAt(text, offset)}`);
      }
    } else if (opening) {
      const attributes: Record<string, string> = {};
      for (const attribute of (attributeText ?? '').matchAll(ATTRIBUTE)) {
        attributes[localName(attribute[1])] = decode(attribute[2] ?? attribute[3]);
      }
      const element: OpenElement = { name: localName(opening), qualifiedName: opening, attributes, children: [], text: '' };
      if (!parent && root) {
        throw new XmlSyntaxError(`a second root element <${opening}> on line ${lineAt(text, offset)}`);
      }
      if (selfClosing) {
        if (parent) {
          parent.children.push(close(element));
        } else {
          root = close(element);
        }
      } else {
        stack.push(element);
      }
    } else if (closing) {
      const open = stack.pop();
      if (open?.qualifiedName !== closing) {
        throw new XmlSyntaxError(`</${closing}> on line ${lineAt(text, offset)} closes ${open ? `<${open.qualifiedName}>` : 'nothing'}`);
      }
      const element = close(open);
      if (stack.length > 0) {
        stack[stack.length - 1].children.push(element);
      } else {
        root = element;
      }
    } else if (whole.startsWith('<!DOCTYPE') && whole.includes('[')) {
      throw new XmlSyntaxError('a DOCTYPE with an internal subset is not accepted');
    }
  }
  if (stack.length > 0) {
    throw new XmlSyntaxError(`<${stack[stack.length - 1].qualifiedName}> is never closed`);
  }
  if (!root) {
    throw new XmlSyntaxError('no root element');
  }
  return root;
}
