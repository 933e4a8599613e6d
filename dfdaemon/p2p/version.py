"""The client version dfget and the dfdaemon report (``dfget version``, the User-Agent, registration)."""
VERSION = "1.0.6-py"
