// Lab stand-in for OpenWrt's ubus module: a bus that knows no interfaces and no services. firewall4
// then takes its zones from /etc/config/firewall alone, which is why the lab's zones name their
// `device` instead of a `network`.
return {
	connect: function() {
		return {
			call: function(object, method, args) { return null; },
			disconnect: function() { return true; }
		};
	},
	error: function() { return null; }
};
