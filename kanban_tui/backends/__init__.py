"""The backends: one module per CRM behind one interface (`base.Backend`), the only code that
speaks a CRM's dialect (HTTP or SQL). `registry.BACKENDS` lists them; `http.py` holds what HTTP
CRMs share and `rescan.py` what CRMs without an "updated since" filter share.

Nothing is imported here: importing one backend does not load the others.
"""
