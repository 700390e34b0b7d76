#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# embed-text.py IN OUT NAME: write a C header holding the text file IN as
# `static const char NAME[]`, so a shipped data file is also built in.
import sys

src, out, name = sys.argv[1:4]
text = open(src, encoding='utf-8').read()
with open(out, 'w', encoding='utf-8') as f:
    f.write('/* Generated from %s by scripts/embed-text.py; do not edit. */\n' % src.split('/')[-1])
    f.write('static const char %s[] =\n' % name)
    for line in text.splitlines(True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
        f.write('\t"%s"\n' % esc)
    f.write(';\n')
