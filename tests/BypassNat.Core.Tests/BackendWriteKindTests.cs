using System.Linq;
using BypassNat.Backends;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Each backend writes one way: as a fragment of the apply's one SSH command (IScriptedBackend), or
    /// by itself (IDirectBackend). Both, or neither, would leave the apply with two writes or none.
    /// </summary>
    public class BackendWriteKindTests
    {
        [Fact]
        public void Every_backend_is_either_scripted_or_direct_never_both()
        {
            var backends = typeof(IRouterBackend).Assembly.GetTypes()
                .Where(t => !t.IsAbstract && !t.IsInterface && typeof(IRouterBackend).IsAssignableFrom(t)).ToList();

            Assert.NotEmpty(backends);
            var wrong = backends.Where(t => typeof(IScriptedBackend).IsAssignableFrom(t) == typeof(IDirectBackend).IsAssignableFrom(t)).Select(t => t.Name).ToList();
            Assert.True(wrong.Count == 0, "backends that write both ways or neither: " + string.Join(", ", wrong));
        }
    }
}
