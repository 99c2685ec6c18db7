"""Rasa input channels hardened for the public internet.

Imported by the Rasa server process (Python 3.10): stdlib, PyYAML and Rasa only, no torch.

- `bot.channels.socketio.HardenedSocketIOInput` (name "socketio"): the web widget's channel.
- `bot.channels.facebook.HardenedFacebookInput` (name "facebook"): Facebook Messenger.
- `bot.channels.user_text`: the checks and friendly replies both share for bad input.
"""
