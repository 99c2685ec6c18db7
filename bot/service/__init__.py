"""Municipal services: the municipality profile, public holidays and working days,
opening hours, and the promised answer time per channel, with texts in Nynorsk and Bokmål.

    from bot.service.profile import load_profile, Profile, ProfileError
    from bot.service.eta import availability            # Availability per channel and moment
    from bot.service.answers import (open_now, desk_list, contact_info, best_time_to_call,
                                     best_time_to_visit, building_deadlines, emergency_numbers,
                                     other_authority)  # each returns Texts(nn, nb)
"""
