import AutoscalerCore
import Testing
import TestSupport
import IntegrationSupport

@Suite("Forecast checked against Redash's refreshes", .testThreads)
struct ForecastCheckTests {
    static let refresh = Build.monday

    @Test("a refresh Redash records is compared with the latest prediction for it, once")
    func comparesOnce() {
        var check = ForecastCheck()
        check.predict(RefreshPrediction(at: Self.refresh, dueQueries: 3))
        // A later tick knows more about the same refresh: it replaces the earlier prediction.
        check.predict(RefreshPrediction(at: Self.refresh + .milliseconds(400), dueQueries: 5))
        check.predict(RefreshPrediction(at: Self.refresh + .seconds(30), dueQueries: 1))
        // Redash's refresh ran 0.8 s late and found 6 due.
        let comparison = check.observe(refreshAt: Self.refresh + .milliseconds(800), outdatedQueries: 6)
        #expect(comparison?.predicted == 5 && comparison?.observed == 6 && comparison?.error == 1)
        #expect(check.observe(refreshAt: Self.refresh + .milliseconds(800), outdatedQueries: 6) == nil, "the same refresh again")
        #expect(check.compared == 1 && check.meanAbsoluteError == 1)
        // The next one, exactly as predicted.
        #expect(check.observe(refreshAt: Self.refresh + .seconds(30.2), outdatedQueries: 1)?.error == 0)
        #expect(check.compared == 2 && check.meanAbsoluteError == 0.5)
    }

    @Test("a refresh nobody predicted is not compared; predictions for refreshes that never came are dropped")
    func unpredicted() {
        var check = ForecastCheck()
        #expect(check.observe(refreshAt: Self.refresh, outdatedQueries: 4) == nil)
        check.predict(RefreshPrediction(at: Self.refresh + .seconds(30), dueQueries: 2))
        check.predict(RefreshPrediction(at: Self.refresh + .seconds(300), dueQueries: 2))
        #expect(check.predictions.count == 1, "a prediction more than two minutes older than the newest is gone")
        #expect(check.observe(refreshAt: Self.refresh + .seconds(90), outdatedQueries: 2) == nil, "no prediction within 12 s of it")
        #expect(check.compared == 0 && check.meanAbsoluteError == nil)
    }
}
