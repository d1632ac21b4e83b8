using System.Collections.Generic;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>Builds forwards from text, the way users write them, for the tests.</summary>
    internal static class Forwards
    {
        public static BypassForward Make(string name, string protocol, string externalPort, string internalAddress = "192.0.2.20",
            string internalPort = null, string bypassPort = null, string bypassAddress = "192.0.2.2", string sourceNat = null,
            string comment = null, string enabled = null)
        {
            var input = new ForwardInput
            {
                Name = name, Protocol = protocol, ExternalPort = externalPort, BypassAddress = bypassAddress, BypassPort = bypassPort,
                InternalAddress = internalAddress, InternalPort = internalPort, SourceNat = sourceNat, Comment = comment, Enabled = enabled,
            };
            BypassForward forward = ForwardParser.Parse(input, 1, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);
            return forward;
        }

        public static List<KeyValuePair<int, BypassForward>> Numbered(params BypassForward[] forwards)
        {
            var list = new List<KeyValuePair<int, BypassForward>>();
            for (int i = 0; i < forwards.Length; i++) list.Add(new KeyValuePair<int, BypassForward>(i + 1, forwards[i]));
            return list;
        }
    }
}
