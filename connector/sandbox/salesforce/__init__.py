"""A loopback Salesforce REST org (HTTPS, test CA) for the unmodified simple-salesforce client.

    sb = SalesforceSandbox(token="sandbox-token", page_size=500)
    sb.load(demo_dataset())
    with sb.serve() as ep:
        sf = Salesforce(instance_url=ep.base_url, session_id=ep.token, session=sdk_session(ep.ca_path))

What it verifies and where each behaviour comes from: docs/salesforce-api-notes.md.
"""

from .auth import ConnectedApp, UserCredentials
from .sandbox import INTEGRATION_USERNAME, SalesforceSandbox, run_forever, sdk_login_domain, sdk_session

__all__ = [
           "INTEGRATION_USERNAME",
           "ConnectedApp",
           "SalesforceSandbox",
           "UserCredentials",
           "run_forever",
           "sdk_login_domain",
           "sdk_session",
]
