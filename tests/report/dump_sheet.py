#!/usr/bin/env python3
"""Prints one sheet of a workbook (needs openpyxl) as tab-separated lines,
empty cells at a row's end left out:  dump_sheet.py XLSX SHEET-NAME|INDEX
Exits 1 when there is no such sheet, naming the ones there are."""
import sys

import openpyxl

wb = openpyxl.load_workbook(sys.argv[1])
name = sys.argv[2]
ws = wb.worksheets[int(name)] if name.isdigit() else wb[name] if name in wb.sheetnames else None
if ws is None:
    sys.exit(f'no sheet {name!r}: the sheets are {wb.sheetnames}')
for r in ws.iter_rows(values_only=True):
    cells = ['' if v is None else str(v) for v in r]
    while cells and cells[-1] == '':
        cells.pop()
    print('\t'.join(cells))
