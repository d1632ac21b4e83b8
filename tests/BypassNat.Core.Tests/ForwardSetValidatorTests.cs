using System.Collections.Generic;
using System.Net;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    public class ForwardSetValidatorTests
    {
        [Fact]
        public void NamesAreUniqueIgnoringCase()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("web", "tcp", "80"), Forwards.Make("Web", "tcp", "81")));
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal(2, issue.Row);
            Assert.Equal("BypassNat.DuplicateName", issue.ErrorId);
            Assert.Contains("row 1", issue.Reason);
        }

        [Fact]
        public void TwoForwardsCannotClaimTheSamePortAndProtocolOnTheBypassRouter()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcpudp", "6000-6010"),
                Forwards.Make("b", "udp", "7005", bypassPort: "6010"),
                Forwards.Make("c", "tcp", "6011")));
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal(2, issue.Row);
            Assert.Contains("UDP port 6010 on 192.0.2.2 is already forwarded by 'a' (row 1)", issue.Reason);
        }

        [Fact]
        public void SamePortOnAnotherProtocolOrAddressOrDisabledIsFine()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("a", "tcp", "53"),
                Forwards.Make("b", "udp", "53"),
                // The same bypass port on another bypass router (the external port is the main router's, one a forward).
                Forwards.Make("c", "tcp", "54", bypassPort: "53", bypassAddress: "192.0.2.3", internalAddress: "192.0.2.21"),
                Forwards.Make("d", "tcp", "53", enabled: "false")));
            Assert.Empty(issues);
        }

        [Fact]
        public void ChecksNamesOfForwardsMadeOutsideTheParser()
        {
            var made = new BypassForward("x'$(id)'", ForwardProtocol.Tcp, PortRange.Parse("80"), IPAddress.Parse("192.0.2.2"),
                PortRange.Parse("80"), IPAddress.Parse("192.0.2.20"), PortRange.Parse("80"));
            ForwardIssue issue = Assert.Single(ForwardSetValidator.Check(new[] { made }));
            Assert.Equal("BypassNat.InvalidName", issue.ErrorId);
        }

        [Fact]
        public void ADevicePortIsReachedThroughOneBypassAddressOnly()
        {
            // Two external ports to one device port through the same router: fine.
            Assert.Empty(ForwardSetValidator.Check(new[] { Forwards.Make("a", "tcp", "80"), Forwards.Make("b", "tcp", "8080", internalPort: "80") }));
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(new[]
            {
                Forwards.Make("a", "tcp", "80"),
                Forwards.Make("b", "tcp", "8080", internalPort: "80", bypassAddress: "192.0.2.3"),
            });
            Assert.Contains("TCP port 80 of 192.0.2.20 is also reached through 192.0.2.2 by 'a' (row 1)", Assert.Single(issues).Reason);
        }

        [Fact]
        public void RefusesAForwardThatWouldCaptureTheSessionsSshPort()
        {
            var addresses = new[] { IPAddress.Parse("192.0.2.2") };
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(Forwards.Numbered(
                Forwards.Make("ok", "udp", "22"),
                Forwards.Make("range", "tcp", "20-30", internalAddress: "192.0.2.20")), addresses, 22);
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal("BypassNat.SshPortCapture", issue.ErrorId);
            Assert.Equal(2, issue.Row);
            Assert.Contains("-Force", issue.Reason);

            Assert.Empty(ForwardSetValidator.Check(Forwards.Numbered(Forwards.Make("x", "tcp", "22")), addresses, 2222));
        }
    }
}
