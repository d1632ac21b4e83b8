using System.Collections.Generic;
using System.Reflection;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    public class ForwardCopyTests
    {
        // Get-BypassForward writes a subclass made with BypassForward's copy constructor: a field the
        // copy forgets is silently empty in its output and in Export-Csv (InternalIPv6 was).
        private sealed class Copy : BypassForward
        {
            public Copy(BypassForward other) : base(other) { }
        }

        [Fact]
        public void A_copy_for_a_subclass_carries_every_property()
        {
            var input = new ForwardInput
            {
                Name = "web6", Protocol = "TcpUdp", ExternalPort = "8080", BypassAddress = "192.0.2.2", BypassPort = "8080",
                InternalAddress = "192.0.2.20", InternalPort = "8080", SourceNat = "true", Comment = "家 NAS", Enabled = "false",
                PublicAddress = "203.0.113.1", AllowedSource = "198.51.100.0/24 2001:db8:99::/48", InternalIPv6 = "::20",
            };
            BypassForward original = ForwardParser.Parse(input, 1, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);

            var copy = new Copy(original);

            foreach (PropertyInfo property in typeof(BypassForward).GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                object value = property.GetValue(original);
                Assert.NotNull(value);
                Assert.True(Equals(value, property.GetValue(copy)) || value.ToString() == property.GetValue(copy)?.ToString(), $"{property.Name} was not copied");
            }
        }
    }
}
