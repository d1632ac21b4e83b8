// Lab stand-in for OpenWrt's ubus module. There is no netifd to ask, so `network.interface dump`
// answers with /etc/lab-ubus/network.interface.json where the lab wrote one (the main router: its
// zones then name their `network`, and firewall4 knows their addresses, which its NAT reflection
// needs), and with nothing otherwise (the bypass router: its zones name their `device`).
const fs = require("fs");

return {
	connect: function() {
		return {
			call: function(object, method, args) {
				if (object != "network.interface" || method != "dump")
					return null;
				let text = fs.readfile("/etc/lab-ubus/network.interface.json");
				return text ? json(text) : null;
			},
			disconnect: function() { return true; }
		};
	},
	error: function() { return null; }
};
