"""Municipal services: the municipality profile, public holidays and working days,
opening hours, and the promised answer time per channel, with texts in Nynorsk and Bokmål.

    from bot.service.profile import load_profile, Profile
    from bot.service.eta import availability
    from bot.service.answers import open_now, desk_list, contact_info
"""
