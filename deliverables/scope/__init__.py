"""Client scope: governed Salesforce accounts mapped to Domo groups, against the Domo PDP policies received."""
