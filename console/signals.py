"""Signal receivers of the console (login, failed login and logout auditing)."""
