"""Compliance: everything that makes forgotten data stay forgotten, and the proof of it.

One module per concept, each named for it:

- `index`       the lineage index: which artifact was trained on which samples (written at every
                registration and alias move; `forgetflow reindex` rebuilds it from MLflow + DVC)
- `taint`       which artifacts still hold forgotten data; the alias guards built on it
- `purge`       forgotten data and tainted weights leave every store (DVC cache/remote, MLflow)
- `contains`    `forgetflow contains`: does any model still hold these samples?
- `certificate` deletion certificates and their verification
- `audit`       `forgetflow audit`: data, ledger chain and served weights re-read from where they live

The SQL underneath (taint query, containment join) is `components/ledger/provenance.py`.
"""
