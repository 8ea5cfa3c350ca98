#!/usr/bin/python3
"""Golden file for jf's html.unescape (eval/html_unescape.c): Python's html.unescape applied
twice (as OpenAI's CLIP cleans captions) to a corpus of references — named with and without ';',
longest-prefix matches, numeric decimal and hex, the remapped and dropped code points, surrogates,
huge numbers, non-ASCII text around them — and to random mixes of those pieces.
Layout: b"JFHU", u32 n; per case u32 len, UTF-8 input, u32 len, UTF-8 output.
Usage: html_unescape_ref.py OUT.bin"""
import html
import random
import struct
import sys

CASES = [
    "Tom &amp; Jerry", "&amp;amp;", "&amp;amp;amp;", "a &lt;b&gt; c", "&quot;quoted&quot;", "it&#39;s", "it&#x27;s",
    "&copy 2020", "&copy;2020", "&notit;", "&notin;", "&ampx", "&amp", "&AMP;", "&Amp;", "&nGt;", "&nLt;x",
    "&#0;", "&#13;", "&#128;", "&#129;", "&#150;", "&#x9F;", "&#1;", "&#11;", "&#127;", "&#xFDD0;", "&#xFFFE;",
    "&#x1FFFF;", "&#x10FFFF;", "&#x110000;", "&#55296;", "&#xDFFF;", "&#99999999999999999999999;", "&#x;", "&#;",
    "&#", "&", "& ", "&;", "&#x41", "&#65", "&#0x41;", "&#65x", "&#X4a;", "&#xZZ;", "café &eacute;",
    "日本 &hearts; 語", "&hearts日本;", "&abcdefghijklmnopqrstuvwxyz0123456789;", "&" + "a" * 40 + ";",
    "&lt&lt;&lt", "&&amp;&", "&\t&\n&\f&<&#&;", "&amp;#39;", "&amp;quot;", "a\u00a0&nbsp;b", "&NotNestedGreaterGreater;",
    "&CounterClockwiseContourIntegral;", "&ThickSpace;", "&fjlig;", "&bne;", "&lang;&rang;", "&LT;&GT",
    "emoji &#128512; &#x1F600;", "", "no references at all", "&é;", "&aé;", "&ltée", "&ampé;",
]

PIECES = ["&amp;", "&amp", "&lt", "&#39;", "&#x41;", "&#1", "&", ";", "#", "x", "a", " ", "é", "日", "&not", "it",
          "&#x", "9", "F", "&eacute", "&hearts;", "\t", "&ThickSpace;", "&#128", "&#xD800;", "&fjlig"]


def main(path):
    rng = random.Random(20261127)
    cases = list(CASES)
    for _ in range(400):
        cases.append("".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))))
    out = bytearray(b"JFHU") + struct.pack("<I", len(cases))
    for c in cases:
        a, b = c.encode(), html.unescape(html.unescape(c)).encode("utf-8", "surrogatepass")
        out += struct.pack("<I", len(a)) + a + struct.pack("<I", len(b)) + b
    with open(path, "wb") as f:
        f.write(bytes(out))
    print(f"{path}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
