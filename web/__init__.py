"""The nst web app: a Dash page that talks protocol v1 to the service from the browser."""
