"""The nst web app: a Dash page that talks protocol v2 to the service from the browser."""
