import { attributeOf, escapeXml, parseXml, XML_NAMESPACE, XmlSyntaxError } from '../../../lambda/keys/strict-xml';

function refusal(text: string): XmlSyntaxError {
  try {
    parseXml(text);
  } catch (error) {
    if (error instanceof XmlSyntaxError) {
      return error;
    }
    throw error;
  }
  throw new Error('the document was accepted');
}

describe('the strict XML parser', () => {
  it('resolves default and prefixed namespaces, scoped to where they are declared', () => {
    const root = parseXml('<a xmlns="urn:one" xmlns:p="urn:two"><p:b p:x="1" y="2"><c xmlns="urn:three"/></p:b><d xml:lang="en"/></a>');

    expect([root.namespace, root.localName]).toEqual(['urn:one', 'a']);
    const [b, d] = root.children;
    expect([b.namespace, b.localName, b.qualifiedName]).toEqual(['urn:two', 'b', 'p:b']);
    expect(b.attributes).toEqual([
      { namespace: 'urn:two', localName: 'x', qualifiedName: 'p:x', value: '1' },
      { namespace: undefined, localName: 'y', qualifiedName: 'y', value: '2' },
    ]);
    expect(b.children[0].namespace).toBe('urn:three');
    expect([d.namespace, d.attributes[0].namespace]).toEqual(['urn:one', XML_NAMESPACE]);
  });

  it('decodes the predefined entities, character references and CDATA, and normalizes attribute whitespace', () => {
    const root = parseXml('<a v="x&#10;y\tz &quot;q&quot;">&lt;&gt;&amp;&apos;&#x1F600;<![CDATA[<raw & text>]]><!-- note --></a>');

    expect(root.text).toBe("<>&'\u{1F600}<raw & text>");
    expect(attributeOf(root, 'v')).toBe('x\ny z "q"');
  });

  it('numbers lines in its messages', () => {
    expect(refusal('<a>\n<b>\n</c>\n</a>').message).toBe('XML: </c> closes <b> (line 2) (line 3)');
  });

  it.each([
    ['<!DOCTYPE a><a/>', 'DOCTYPE'],
    ['<a><!doctype b></a>', 'DOCTYPE'],
    ['<a>&ent;</a>', 'entity'],
    ['<a>&#0;</a>', 'entity'],
    ['<a>& b</a>', 'entity'],
    ['<a v="&x;"/>', 'entity'],
    ['<?pi x?><a/>', 'XML'],
    ['<?xml version="1.1"?><a/>', 'XML'],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><a/>', 'XML'],
    ['<a/><b/>', 'XML'],
    ['<a/>text', 'XML'],
    ['<a v="1" v="2"/>', 'XML'],
    ['<a xmlns:p="urn:x" xmlns:q="urn:x" p:v="1" q:v="2"/>', 'XML'],
    ['<a v=1/>', 'XML'],
    ['<a v="<"/>', 'XML'],
    ['<a>]]></a>', 'XML'],
    ['<a><!-- x -- y --></a>', 'XML'],
    ['<a>\u0001</a>', 'XML'],
    ['<é/>', 'XML'],
    ['<p:a/>', 'XML'],
    ['<a xmlns:p=""/>', 'XML'],
    ['', 'XML'],
  ])('refuses %j (%s)', (text, where) => {
    expect(refusal(text).where).toBe(where);
  });

  it('bounds depth, elements and attributes', () => {
    expect(() => parseXml(`${'<a>'.repeat(5)}${'</a>'.repeat(5)}`, { maxDepth: 4, maxElements: 10, maxAttributesPerElement: 1 })).toThrow(/deeper than 4/);
    expect(() => parseXml('<a><b/><b/><b/></a>', { maxDepth: 4, maxElements: 3, maxAttributesPerElement: 1 })).toThrow(/more than 3 elements/);
    expect(() => parseXml('<a x="1" y="2"/>', { maxDepth: 4, maxElements: 3, maxAttributesPerElement: 1 })).toThrow(/more than 1 attributes/);
  });

  it('reads a deep, wide document in time linear in its length', () => {
    const wide = `<a>${'<b x="1">t</b>'.repeat(1000)}</a>`;
    const started = process.hrtime.bigint();

    const root = parseXml(wide, { maxDepth: 4, maxElements: 2000, maxAttributesPerElement: 4 });

    expect(root.children).toHaveLength(1000);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(500);
  });

  it('escapes what it writes', () => {
    expect(escapeXml(`<a href="x">&'\n`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;&#10;');
    expect(attributeOf(parseXml(`<a v="${escapeXml('one\ttwo\nthree')}"/>`), 'v')).toBe('one\ttwo\nthree');
  });
});
