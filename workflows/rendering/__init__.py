"""Rendering: plain values in, HTML, SVG, PDF or spreadsheet cells out.

- documents/: official documents (文书) and period reports as PDF (Jinja2 + WeasyPrint), and the
  places a model declares for them (documents/declarations.py);
- diagram.py: a BPMN process as SVG from its own diagram interchange; charts.py: bar, column and
  funnel charts as SVG;
- instructions.py: a task's Markdown instructions as HTML (sandboxed Jinja, no raw HTML);
- cells.py: cells of the .xlsx and CSV exports as text, never as formulas.

No module here reads the database, runs the engine or calls a service (tests/test_architecture.py):
the services build the context and call these. Nothing is imported here, so importing one renderer
does not load WeasyPrint.
"""
