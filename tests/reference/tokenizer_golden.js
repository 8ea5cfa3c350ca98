#!/usr/bin/env node
// Golden token ids from Hugging Face's own tokenizers library (npm package "tokenizers") for a
// varied corpus, to check jf's C tokenizer against. Usage:
//   npm install tokenizers   (in a scratch folder; NODE_PATH pointing at its node_modules)
//   node tests/reference/tokenizer_golden.js TOKENIZER.json OUT.json
// Each case stores the input bytes as base64 (some are invalid UTF-8: the library sees them as
// Node decodes them, each maximal invalid subpart as U+FFFD) and the ids with and without
// special tokens.
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

const fixed = [
  'Hello, how are you?', 'Hello world', ' Hello world', '  two leading spaces', 'trailing spaces   ',
  'The quick brown fox jumps over the lazy dog.', "It's a test, isn't it? We'll see: you're right, they've gone.",
  'Führer Ärger Öl Übermut straße', 'naïve café résumé coöperate', 'Ελληνικά κείμενα ώ ΐ Ί', 'Русский текст, ёлка',
  '中文文本测试，你好世界。', '日本語のテキストです', '한국어 텍스트', 'ภาษาไทย', 'ខ្មែរ', 'हिन्दी पाठ', 'العربية نص',
  'emoji 😀😃😄 👍🏽 👨‍👩‍👧 🇩🇪', 'digits 0123456789 3.14159 1,000,000 ٣٤٥ ①②③ ½ Ⅻ', '12345678901234567890',
  'tabs\tand\ttabs', 'new\nlines\n\nand\r\nCRLF\rCR', 'many     spaces      here', '\u00a0nbsp\u00a0\u00a0x',
  'ideographic\u3000space', 'line\u2028separator', 'next\u0085line', 'ctrl\u001c\u001d\u001e\u001fchars',
  '<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>', 'User: <image_placeholder>\nWhat is this?\n\nAssistant:',
  '<｜begin▁of▁generation｜> and <begin_of_image>', 'ø ö ú ÿ õ ÷ û ý À ù Á þ ü',
  'int main(void) { return printf("%d\\n", 42) ? 0 : 1; }', 'https://example.com/a/b?c=d&e=f#g',
  'MIXED case WORDS and CamelCaseIdentifiers', '!!!??? ... --- *** ### $$$ %%%', '"quoted" \'single\' `back`',
  '', ' ', '\n', '\t\t', 'a', 'Ω', '🙂',
];

// Invalid UTF-8 as raw bytes.
const invalid = [
  [0x61, 0xff, 0x62], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80, 0x41],
  [0x80, 0x80, 0x41, 0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80, 0x20, 0x7a],
];

// Generated strings from a fixed seed: words, digits, punctuation and unusual whitespace.
let seed = 20261126;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
const pool = ['the', 'cat', 'Über', 'naïve', '猫', 'кот', '🐈', '2024', '3', ' ', '  ', '\t', '\n', ',', '.', '!',
              '?', "'s", "'ll", '-', '(', ')', '"', 'ü', 'ÿ', 'µ', 'Ꭰ', 'ﬁ', '\u00a0', '\u3000', '１２', 'ｆｕｌｌ',
              'word', 'Word', 'WORD', 'x', '_', '#', '@', '<', '>', '/', '\\', ':', ';', '€', '¥', '∑', 'ℕ'];
const generated = [];
for (let i = 0; i < 400; i++) {
  let s = '';
  const n = 1 + rnd(12);
  for (let k = 0; k < n; k++) s += pool[rnd(pool.length)];
  generated.push(s);
}

(async () => {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const cases = [];
  const inputs = fixed.map((s) => Buffer.from(s, 'utf8'))
    .concat(invalid.map((b) => Buffer.from(b)))
    .concat(generated.map((s) => Buffer.from(s, 'utf8')));
  for (const buf of inputs) {
    const text = buf.toString('utf8');
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const decoded = await tok.decode(plain.getIds(), false);
    cases.push({ b64: buf.toString('base64'), ids: plain.getIds(), ids_special: special.getIds(), decoded });
  }
  fs.writeFileSync(process.argv[3], JSON.stringify({ tokenizer: process.argv[2].split('/').slice(-2).join('/'), cases }));
  console.log(`${cases.length} cases -> ${process.argv[3]}`);
})();
