using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Ssh
{
    /// <summary>
    /// The sessions New-BypassSession opened and Remove-BypassSession has not closed yet. One table a
    /// process, like Posh-SSH's, so a session opened in one runspace can be used and closed in another.
    /// </summary>
    public static class SessionTable
    {
        private static readonly object Gate = new object();
        private static readonly List<BypassSession> Sessions = new List<BypassSession>();

        public static void Add(BypassSession session)
        {
            lock (Gate) Sessions.Add(session);
        }

        public static IReadOnlyList<BypassSession> All()
        {
            lock (Gate) return Sessions.ToList();
        }

        /// <summary>Closes the session and forgets it.</summary>
        public static void Close(BypassSession session)
        {
            lock (Gate) Sessions.Remove(session);
            session.Dispose();
        }

        public static void CloseAll()
        {
            foreach (BypassSession session in All()) Close(session);
        }
    }
}
