#!/usr/bin/env python3
"""Rebuilds the text seed corpora from the tests' own configs.

Every Rust string literal in tests/integration/ (tests and harness) that
holds a service config (a [DEFAULT] section) seeds service_config and
ini_edit; every one that holds node.conf sections seeds node_conf. Schedule values
are the documented forms. Sealed frames and datasets are written by
`cargo test --test integration -- --ignored tier2::fuzz_corpus::write_seeds`.
Run from the repository root; files are named by content hash, so a rerun
adds nothing twice.
"""
import glob, hashlib, os, re

LIT = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
MAX_PER_TARGET = 10


def unescape(s):
    s = re.sub(r'\\\n\s*', '', s)  # a Rust line continuation
    return (s.replace('\\n', '\n').replace('\\t', '\t').replace('\\"', '"')
             .replace('\\\\', '\\'))


def put(target, data):
    d = os.path.join('fuzz/corpus', target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


svc, node, snippets = [], [], []
for path in sorted(glob.glob('tests/integration/**/*.rs', recursive=True)):
    for m in LIT.finditer(open(path, encoding='utf-8').read()):
        text = unescape(m.group(1)).replace('{R}', '/r')
        for hole in ('{body}', '{before}'):
            text = text.replace(hole, '')
        # Messages and shell lines that quote a section are not configs.
        if not re.search(r'^\s*\[[^\]\n]+\]', text, re.M) \
                or not re.search(r'^\s*[\w@#.]+\s*=', text, re.M):
            continue
        if '[DEFAULT]' in text and len(text) > 40:
            svc.append(text)
        elif re.search(r'\[(cluster|hb#\d+|node|arbitrator#\d+|listener)\]', text):
            node.append(text)
        else:
            # A section a test appends to the tutorial's service.
            snippets.append(text)

# Longest first: they hold the most sections and keywords.
base = max(svc, key=len)
svc += [base + '\n' + t for t in sorted(set(snippets), key=len, reverse=True)]
for text in sorted(set(svc), key=len, reverse=True)[:MAX_PER_TARGET]:
    put('service_config', text.encode())
    # ini_edit: byte 0 = set, bytes 1-3 pick the param and value.
    put('ini_edit', b'\x00\x01\x02\x03' + text.encode())
    put('ini_edit', b'\x01\x02\x00\x00' + text.encode())
for text in sorted(set(node), key=len, reverse=True)[:MAX_PER_TARGET]:
    put('node_conf', text.encode())
    put('ini_edit', b'\x02hb#1.timeout 5\n' + text.encode())
for v in ['15', '["03:59","05:59"]', '[["00:00","01:00"],["12:00","13:30"]]',
          '["monday","Sunday"]', '"friday"', '2s', '0.5', '1e20', '18446744073709551615']:
    put('schedule', v.encode())
