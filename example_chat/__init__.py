"""The example chat: a Django project that uses every part of mizan-channels."""
