using System;
using System.Threading;
using BypassNat.Backends;
using BypassNat.IKuai;

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
    /// with. Or, for an iKuai main router (<see cref="OpenIKuai"/>), its web API with its login or
    /// token and pinned certificate: 3.x logs in again by itself when its session expired. The
    /// password, key passphrase or token stay in private settings, never in a property.
    /// </summary>
    public sealed class BypassSession : IDisposable
    {
        private static int _lastId;
        private readonly object _gate = new object();
        private readonly SshSettings _settings;
        private RouterSession _connection;
        private readonly IKuaiSettings _ikuai;
        private IIKuaiApi _api;

        private BypassSession(SshSettings settings, RouterSession connection)
        {
            Id = Interlocked.Increment(ref _lastId);
            _settings = settings;
            _connection = connection;
            HostKeyFingerprint = connection.HostKeyFingerprint;
            Login = connection.Login;
            Opened = DateTime.Now;
            HostKeyAddedTo = connection.HostKeyAdded ? connection.KnownHostsFile : null;
        }

        private BypassSession(IKuaiSettings settings, IIKuaiApi api)
        {
            Id = Interlocked.Increment(ref _lastId);
            _ikuai = settings;
            _api = api;
            Login = api.Describe;
            Opened = DateTime.Now;
            CertificateFingerprint = (api as IKuaiApi)?.Trust.Presented;
        }

        public int Id { get; }
        public string ComputerName => _ikuai?.ComputerName ?? _settings.ComputerName;
        public int Port => _ikuai?.EffectivePort ?? _settings.Port;

        /// <summary>The login name (an iKuai 4.x session logs in with a token: none).</summary>
        public string UserName => _ikuai != null ? _ikuai.UserName : _settings.UserName;

        /// <summary>IKuai for a session to an iKuai router's web API; Auto for SSH, where each command picks the backend on the router.</summary>
        public BackendKind Backend => _ikuai != null ? BackendKind.IKuai : BackendKind.Auto;

        /// <summary>Where the session goes: ssh://user@host:port, or the iKuai API's http(s)://host:port.</summary>
        public string Endpoint => _ikuai?.Endpoint ?? _settings.Endpoint;

        /// <summary>Whether the session's requests are encrypted (SSH, or iKuai over HTTPS).</summary>
        public bool UsesHttps => _ikuai == null || _ikuai.UseHttps;

        public string HostKeyFingerprint { get; }

        /// <summary>An iKuai session over HTTPS: the SHA-256 fingerprint of the certificate it accepted.</summary>
        public string CertificateFingerprint { get; }
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

        public bool UseSudo => _settings?.UseSudo ?? false;

        public static BypassSession Open(SshSettings settings, CancellationToken cancel = default(CancellationToken))
        {
            RouterSession connection = RouterSession.Open(settings, cancel);
            SshSettings kept = settings.Copy();
            kept.PinnedFingerprint = connection.HostKeyFingerprint;
            return new BypassSession(kept, connection);
        }

        /// <summary>
        /// Opens a session to an iKuai router's web API: one read of its port mappings proves the
        /// certificate and the login (3.x) or the token (4.x) before the session is handed out.
        /// </summary>
        public static BypassSession OpenIKuai(IKuaiSettings settings)
        {
            IIKuaiApi api = IKuaiApi.Open(settings, settings.Trace, settings.Cancel);
            try
            {
                api.List();
            }
            catch
            {
                api.Dispose();
                throw;
            }

            // The session outlives the command that opened it: no hook into its streams or its Ctrl-C.
            api.Trace = null;
            api.Cancel = CancellationToken.None;
            settings.Trace = null;
            settings.Cancel = CancellationToken.None;
            return new BypassSession(settings, api);
        }

        /// <summary>The web API of an iKuai session, its login kept.</summary>
        public IIKuaiApi WebApi()
        {
            lock (_gate)
            {
                if (State == BypassSessionState.Closed)
                    throw new BypassNatException("BypassNat.SessionClosed", FailureKind.InvalidOperation,
                        $"Session {Id} to {Endpoint} was closed with Remove-BypassSession; open a new one with New-BypassSession.", ComputerName);
                return _api ?? throw new BypassNatException("BypassNat.SessionNotIKuai", FailureKind.InvalidOperation,
                    $"Session {Id} to {Endpoint} is an SSH session, not one to an iKuai router's web API.", ComputerName);
            }
        }

        /// <summary>
        /// The live connection; reopens a dropped one first (and says so through <paramref name="note"/>).
        /// SSH.NET does not always notice a dead peer by itself, so a cheap command checks it.
        /// </summary>
        public RouterSession Connection(Action<string> note)
        {
            lock (_gate)
            {
                if (State == BypassSessionState.Closed)
                    throw new BypassNatException("BypassNat.SessionClosed", FailureKind.InvalidOperation,
                        $"Session {Id} to {Endpoint} was closed with Remove-BypassSession; open a new one with New-BypassSession.", ComputerName);
                if (_api != null)
                    throw new BypassNatException("BypassNat.SessionNotSsh", FailureKind.InvalidOperation,
                        $"Session {Id} to {Endpoint} is a session to an iKuai router's web API, not SSH.", ComputerName);
                string why = Alive();
                if (why == null) return _connection;

                _connection?.Dispose();
                _connection = null;
                try
                {
                    _connection = RouterSession.Open(_settings);
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
                note?.Invoke($"Session {Id} to {_settings.Endpoint} had lost its connection ({why}); reopened it (host key {_connection.HostKeyFingerprint}, as before).");
                return _connection;
            }
        }

        private string Alive()
        {
            if (_connection == null) return LastError ?? "not connected";
            if (!_connection.IsConnected) return "the router closed it";
            try
            {
                return _connection.Run("exit 0").Succeeded ? null : "a test command failed";
            }
            catch (BypassNatException e)
            {
                return e.Message;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                State = BypassSessionState.Closed;
                _connection?.Dispose();
                _connection = null;
                _api?.Dispose();
                _api = null;
            }
        }
    }
}
