using System;
using System.Threading;

namespace BypassNat.Ssh
{
    public enum BypassSessionState
    {
        /// <summary>Connected, or closed by the network and reopened on next use.</summary>
        Opened,
        /// <summary>The connection dropped and could not be reopened; the last error says why. The next use tries again.</summary>
        Broken,
        /// <summary>Closed by Remove-BypassSession; no longer usable.</summary>
        Closed,
    }

    /// <summary>
    /// An SSH connection to a router that a script keeps and reuses (New-BypassSession), so reading,
    /// testing and applying cost one login. A connection that died is reopened on next use with the
    /// same settings and the same strict host-key check, and must present the key it was first opened
    /// with.
    /// </summary>
    public sealed class BypassSession : IDisposable
    {
        private static int _lastId;
        private readonly object _gate = new object();
        private readonly SshSettings _settings;
        private readonly IRouterConnector _connector;
        private RouterSession _connection;

        private BypassSession(SshSettings settings, RouterSession connection, IRouterConnector connector)
        {
            _connector = connector;
            Id = Interlocked.Increment(ref _lastId);
            _settings = settings;
            _connection = connection;
            HostKeyFingerprint = connection.HostKeyFingerprint;
            Login = connection.Login;
            Opened = DateTime.Now;
            HostKeyAddedTo = connection.HostKeyAdded ? connection.KnownHostsFile : null;
        }

        public int Id { get; }
        public string ComputerName => _settings.ComputerName;
        public int Port => _settings.Port;
        public string UserName => _settings.UserName;
        public string HostKeyFingerprint { get; }
        public BypassSessionState State { get; private set; } = BypassSessionState.Opened;
        public DateTime Opened { get; }

        /// <summary>How many times the session was reopened after its connection dropped.</summary>
        public int Reopened { get; private set; }

        /// <summary>Why the session is Broken, when it is.</summary>
        public string LastError { get; private set; }

        /// <summary>The known_hosts file -AcceptNewHostKey added the router's key to when the session opened; null otherwise.</summary>
        public string HostKeyAddedTo { get; }

        /// <summary>Which key (or password) the router accepted.</summary>
        public string Login { get; }

        public bool UseSudo => _settings.UseSudo;

        public static BypassSession Open(SshSettings settings, CancellationToken cancel = default(CancellationToken)) => Open(settings, null, cancel);

        /// <summary>Opens a session through <paramref name="connector"/> (the tests' fake router; null: the module's SSH.NET).</summary>
        public static BypassSession Open(SshSettings settings, IRouterConnector connector, CancellationToken cancel = default(CancellationToken))
        {
            RouterSession connection = connector == null ? RouterSession.Open(settings, cancel) : RouterSession.Open(settings, connector, cancel);
            SshSettings kept = settings.Copy();
            kept.PinnedFingerprint = connection.HostKeyFingerprint;
            return new BypassSession(kept, connection, connector);
        }

        /// <summary>
        /// The live connection; reopens one that is known to have dropped first (and says so through
        /// <paramref name="note"/>). A connection that died without SSH.NET noticing is found by the
        /// first command, which then fails before the router received it: the connection is reopened
        /// in place and the command sent again (<see cref="RouterSession.Reconnect"/>). Testing every
        /// use with a command of its own cost a round trip to the router each time.
        /// </summary>
        public RouterSession Connection(Action<string> note)
        {
            lock (_gate)
            {
                if (State == BypassSessionState.Closed)
                    throw new BypassNatException("BypassNat.SessionClosed", FailureKind.InvalidOperation,
                        $"Session {Id} to {_settings.Endpoint} was closed with Remove-BypassSession; open a new one with New-BypassSession.", ComputerName);
                if (_connection == null || !_connection.IsConnected)
                {
                    string why = _connection == null ? LastError ?? "not connected" : "the router closed it";
                    _connection?.Dispose();
                    _connection = null;
                    _connection = Reopen(why, note, () => _connector == null ? RouterSession.Open(_settings) : RouterSession.Open(_settings, _connector));
                }

                _connection.Reconnect = why => { lock (_gate) return Reopen(why, note, () => RouterSession.ConnectAgain(_settings, _connector)); };
                return _connection;
            }
        }

        // Called under _gate. Broken (and the error says so) when the router cannot be reached again.
        private T Reopen<T>(string why, Action<string> note, Func<T> connect)
        {
            T fresh;
            try
            {
                fresh = connect();
            }
            catch (BypassNatException e)
            {
                State = BypassSessionState.Broken;
                LastError = e.Message;
                throw new BypassNatException(e.ErrorId, e.Kind,
                    $"Session {Id} to {_settings.Endpoint} lost its connection ({why}) and could not be reopened: {e.Message}", ComputerName, e);
            }

            State = BypassSessionState.Opened;
            LastError = null;
            Reopened++;
            note?.Invoke($"Session {Id} to {_settings.Endpoint} had lost its connection ({why}); reopened it (host key {HostKeyFingerprint}, as before).");
            return fresh;
        }

        public void Dispose()
        {
            lock (_gate)
            {
                State = BypassSessionState.Closed;
                _connection?.Dispose();
                _connection = null;
            }
        }
    }
}
