"""The portal's blueprints; each module has `blueprint(portal) -> sanic.Blueprint`."""
