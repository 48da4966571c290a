"""The bench's own Django project: every peer app behind one ASGI entry point, so a server
process serves them all and each case's CPU is read from that one process."""
