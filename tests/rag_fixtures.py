"""A small real corpus, written into a project folder, for the RAG tests."""

from __future__ import annotations

from pathlib import Path

from workbench.prompts.schema import Retrieval
from workbench.settings import Settings

DOCS = {
    "billing/refunds.md": """# Refunds

You get a full refund within 14 days of a payment. Email support@lumen.app with your invoice number.

## After 14 days

Payments older than 14 days are not refunded, but you can cancel at any time in Settings > Billing.
""",
    "billing/payment-methods.txt": """Payment methods

We accept Visa, Mastercard, American Express and PayPal. We do not accept bank transfers or cheques.

Failed payments are retried after 3 days and after 7 days.
""",
    "account/password-reset.md": """# Resetting your password

Go to lumen.app/reset and enter your email address. The reset link expires after 1 hour.

If the email does not arrive, check your spam folder.
""",
    "account/two-factor.html": """<html><head><title>Two-factor authentication</title>
<script>document.title = "never run";</script><style>p { color: red }</style></head>
<body><nav>Home | Account</nav>
<h1>Two-factor authentication</h1>
<p>Turn on 2FA in <b>Settings &gt; Security</b>. Authenticator apps only;
   we never send codes by SMS.</p>
<ul><li>You receive 10 backup codes.</li><li>Each code works once.</li></ul>
<table><tr><th>Plan</th><th>2FA</th></tr><tr><td>Free</td><td>yes</td></tr></table>
<!-- an HTML comment that is not content -->
<footer>(c) Lumen Labs</footer></body></html>
""",
    "sync/offline.txt": """Working offline

Offline mode is available in the desktop apps only: Windows, macOS and Linux.
The web app and the mobile apps need an internet connection.
""",
}


def write_corpus(root: Path, corpus: str = "docs", docs: dict[str, str] = DOCS) -> Path:
    folder = root / "datasets" / corpus / "corpus"
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def rag_project(root: Path, corpus: str = "docs") -> Settings:
    write_corpus(root, corpus)
    return Settings.load(root=root)


def retrieval(**overrides) -> Retrieval:
    return Retrieval(
        **{"corpus": "docs", "mode": "semantic", "k": 3, "chunk_size": 200, "chunk_overlap": 20, **overrides}
    )
