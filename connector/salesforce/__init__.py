"""The Salesforce adapter (simple-salesforce): see adapter.py and docs/salesforce-adapter.md."""

from connector.salesforce.adapter import SalesforceAdapter
from connector.salesforce.settings import AuthFlow, SalesforceSettings

__all__ = ["AuthFlow", "SalesforceAdapter", "SalesforceSettings"]
